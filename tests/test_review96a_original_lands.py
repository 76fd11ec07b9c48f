"""review96a (settle96's): a stuck pooled settlement whose maker soft-cancelled since its send
has a transfer of nothing sent at its nonce (``ReplacingLane._gone``, ``_transfer_instead``);
both may be pending at once (a backend that did not take the transfer, a block built from
another's pool). The original may land instead: its matches settled once, its fills applied
(the soft-cancelled maker's too: the chain filled it), nothing matched again behind it.

Real Hardhat mining only when told; a real node and SQLite store behind a real loopback proxy
that takes the transfer's send and never passes it on (a backend whose pool did not keep it);
the maker's signed soft cancel posted to the node's API; blocks over the settlement's fee cap
until the transfer is sent, then one under it: the original is mined."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, node_up, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.rpcfault import Answer, _proxy, lone_send
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pending_rows, pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle86_stuck_rejudged import GWEI, over_cap
from tests.test_settle96_cancel_repriced import pooled_match

__all__ = ["pooling"]


class Swallow:
    """A proxy's ``intercept``: once ``armed``, each raw transaction sent (alone) is answered
    taken (its hash) and never passed on; its hashes in ``taken``."""

    def __init__(self) -> None:
        self.armed = threading.Event()
        self.taken: list[str] = []

    def __call__(self, req: object) -> Answer | None:
        tx_hash = lone_send(req) if self.armed.is_set() else None
        if tx_hash is None or not isinstance(req, dict):
            return None
        self.taken.append(tx_hash)
        return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "result": tx_hash}).encode()


async def test_the_original_lands_after_its_transfer_was_sent(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    swallow = Swallow()
    with base_fee_kept(c) as base, _proxy(c.rpc.url, swallow) as url:
        await fee_walked_to(c, 20 * GWEI)
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            operator = node.sender.address
            count, tx, cap = await pooled_match(c, node, api, maker, taker)
            await soft_cancel(c, api, maker, ALICE)
            swallow.armed.set()
            await wait_for(over_cap(c, cap + cap // 4, lambda: bool(swallow.taken)), timeout=90)
            assert tx in s.cancels and s.cancels[tx].tx_hash in swallow.taken, s.cancels
            assert s.replaced == 0, s.replaced
            # (the transfer never reached the chain: the original is pooled, and mined now)
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base))
            c.rpc.call("evm_mine")
            got = c.rpc.call("eth_getTransactionReceipt", tx)
            assert got is not None and quantity(got["status"]) == 1, got
            await wait_for(lambda: not s.in_flight, timeout=60)
            assert c.exchange.order_info(maker.order).filled == E18
            assert c.exchange.order_info(taker.order).filled == 3000 * E6
            assert s.settled == 1 and s.failed == 0 and s.lost == 0, (s.settled, s.failed, s.lost)
            assert s.withheld_cancels == 0, s.withheld_cancels
            assert await api.status(taker) == "filled"
            code, rec = await api.get(f"/v1/orders/{maker.hash_hex}")
            assert code == 200 and rec["metaData"]["filledMakerAmount"] == str(E18), rec
            assert nonce(c.rpc, operator) == count + 1
            assert s.sent == 1, s.sent


CAROL = 3


@pytest.mark.parametrize("lands", ["original", "transfer"])
async def test_the_original_or_its_transfer_lands_across_a_restart(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lands: str
) -> None:
    """The first run's transfer sent at the stuck row's nonce (never passed on), the ``sdex
    node`` process killed by its PID with the row pending; the restart, the row adopted with
    its bid held, and another ask crossing that bid. ``original``: the transfer's sends still
    taken by the proxy, then a block under the row's cap: the row's bytes mined, its fills
    applied once. ``transfer``: the proxy passes the restart's sends on, blocks over the row's
    cap: the restart's transfer takes its nonce, the bid freed, matched with the other ask."""
    c = pooling
    db = tmp_path / "n.db"
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    other = c.sign(ask(c, CAROL, E18, 3000 * E6))
    swallow = Swallow()
    operator = c.address(OPERATOR)
    with base_fee_kept(c) as base, _proxy(c.rpc.url, swallow) as url:
        await fee_walked_to(c, 20 * GWEI)
        async with node_up(c, db, url, OPERATOR) as (proc, api):
            assert (await api.post_taken(maker))[0] == 201
            c.rpc.call("evm_setAutomine", False)
            count = nonce(c.rpc, operator)
            code, body = await api.post_taken(taker)
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: nonce(c.rpc, operator, "pending") > count, timeout=30)
            (tx,) = pending_rows(db)
            cap = quantity(c.rpc.call("eth_getTransactionByHash", tx)["maxFeePerGas"])
            await soft_cancel(c, api, maker, ALICE)
            swallow.armed.set()
            await wait_for(over_cap(c, cap + cap // 4, lambda: bool(swallow.taken)), timeout=90)
            proc.kill()  # (SIGKILL, by its PID: the row pending, its bytes pooled)
            proc.wait(timeout=10)
        assert pending_rows(db) == [tx]
        known = c.rpc.call("eth_getTransactionByHash", tx)
        assert known is not None and known.get("blockNumber") is None, known  # (pooled)
        if lands == "transfer":
            swallow.armed.clear()
        async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
            s = node.settler
            assert s.adopted == 1 and tx in s.in_flight, (s.adopted, s.in_flight)
            code, body = await api.post_taken(other)
            # (before: the row given up at the start, "not open in the book", its bid open:
            # matched again with this ask behind the pooled row, at the next nonce)
            assert code == 201 and body["matches"] == [], body
            if lands == "transfer":
                await transfer_lands(c, node, api, (maker, taker, other), count, cap)
                return
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(base))
            c.rpc.call("evm_mine")
            got = c.rpc.call("eth_getTransactionReceipt", tx)
            assert got is not None and quantity(got["status"]) == 1, got

            async def over() -> bool:
                return not s.in_flight and await api.status(taker) == "filled"

            await wait_for(over, timeout=60)
            c.rpc.call("evm_mine")  # (anything the restart sent behind it)
            assert nonce(c.rpc, operator) == count + 1, "matched again behind the row"
            assert c.exchange.order_info(maker.order).filled == E18
            assert c.exchange.order_info(taker.order).filled == 3000 * E6
            assert c.exchange.order_info(other.order).filled == 0
            assert await api.status(other) == "open"
            assert s.failed == 0 and s.lost == 0, (s.failed, s.lost)

            async def counted() -> bool:  # (the maker, off the book: the watcher's, its block)
                code, rec = await api.get(f"/v1/orders/{maker.hash_hex}")
                return code == 200 and rec["metaData"]["filledMakerAmount"] == str(E18)

            await wait_for(counted, timeout=30)


async def transfer_lands(
    c: Chain, node: Node, api: Api, orders: tuple[SignedOrder, ...], count: int, cap: int
) -> None:
    """(The restart's adopted row, pooled) Blocks over its cap: its transfer takes its nonce,
    its matches failed "cancelled at its nonce", its bid freed and matched with the other
    ask, settled: the soft-cancelled maker never filled."""
    maker, taker, other = orders
    s = node.settler

    def done() -> bool:
        return c.exchange.order_info(taker.order).filled == 3000 * E6

    await wait_for(over_cap(c, cap + cap // 4, done), timeout=120)
    await wait_for(lambda: not s.in_flight, timeout=60)
    assert c.exchange.order_info(maker.order).filled == 0
    assert c.exchange.order_info(other.order).filled == E18
    assert nonce(c.rpc, c.address(OPERATOR)) == count + 2  # (the transfer, the new match)
    assert s.withheld_cancels == 1 and s.lost == 0, (s.withheld_cancels, s.lost)

    async def filled() -> bool:
        return {await api.status(taker), await api.status(other)} == {"filled"}

    await wait_for(filled, timeout=30)
    assert await api.status(maker) == "cancelled"
