"""restart97 (left44, "Restart adoption"; review96e): a start's adoption of a pooled row whose
order the book does not hold reads that order's stored row (``NodeAdoption._off_book``: one its
maker soft-cancelled, evicted). A refused read (a store error that lasts a while: a lock held
past the writer's busy timeout, a failing disk) raised out of the adoption: on a start that
does not hold (no doubt) it failed the whole start (``Node.load``), the node down till a
restart, where a held start's step is tried again (``_held_step``). Now the adoption is tried
again there too, its row's orders held (nothing matched till it is done), the row adopted once
the store reads: never given up on the refusal (its bytes pooled: its orders matched again
behind it would revert), never adopted twice.

Real Hardhat mining only when told; a real ``sdex node`` killed by its PID with the settlement
pooled and its maker's soft cancel acknowledged; the restart in this process, its real SQLite
reader refusing every read of the orders (an authorizer) while the adoption runs, till two
reads were refused."""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sdex.node.adoption import NodeAdoption
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.rpcfault import Answer, _proxy, lone_send, raw_sends
from tests.supersededrows import superseded_rows
from tests.test_doubt81_replaced_rows import statuses
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pending_rows, pooled_and_killed, pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_review66_adopt_landed import FEES
from tests.test_settle86_stuck_rejudged import GWEI, over_cap
from tests.test_settle96_cancel_repriced import pooled_match
from tests.test_store95_follow_refused import refusing

__all__ = ["pooling"]


async def test_a_refused_read_at_adoption_is_tried_again_the_orders_held(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    operator = c.address(OPERATOR)
    _, count = await pooled_and_killed(
        c, db, None, (maker, taker), lambda api: soft_cancel(c, api, maker, ALICE)
    )  # (the maker's soft cancel acknowledged before the kill)
    (tx,) = pending_rows(db)
    refused: list[str] = []
    real = NodeAdoption._adopt_rows

    async def adopt_rows(self: Any, rows: Any, *bound: Any) -> None:
        reader = self.store._reader
        reader.set_authorizer(refusing(refused))

        async def lift() -> None:  # (the store reads again once two reads were refused)
            await wait_for(lambda: len(refused) >= 2, timeout=60)
            reader.set_authorizer(None)

        lifting = asyncio.ensure_future(lift())
        try:
            await real(self, rows, *bound)
        finally:
            reader.set_authorizer(None)
            lifting.cancel()

    monkeypatch.setattr(NodeAdoption, "_adopt_rows", adopt_rows)
    other = c.sign(ask(c, 3, E18, 3000 * E6))  # (crosses the row's bid)
    # (before: the first refusal raised out of the start, ``Node.load``: the node down)
    async with running_node(node_config(c, db)) as (node, api):
        s = node.settler
        assert len(refused) >= 2, refused
        assert s.adopted == 1 and tx in s.in_flight, (s.adopted, s.in_flight)
        code, body = await api.post_taken(other)
        assert code == 201 and body["matches"] == [], body  # (the bid held by the row)
        c.rpc.call("evm_mine")  # (the pooled row)

        async def over() -> bool:
            return not s.in_flight and await api.status(taker) == "filled"

        await wait_for(over, timeout=60)
        c.rpc.call("evm_mine")  # (anything sent behind it)
        assert nonce(c.rpc, operator) == count + 1, "matched again behind the row"
        assert c.exchange.order_info(maker.order).filled == E18
        assert c.exchange.order_info(other.order).filled == 0
        assert s.failed == 0 and s.lost == 0, (s.failed, s.lost)
        assert pending_rows(db) == []


ROWS = 4


async def test_a_hanging_confirming_read_bounds_the_start_not_each_row(
    chain: Chain, tmp_path: Path
) -> None:
    """``ROWS`` pending rows (one pair each, stored open), all mined before the start; the
    restart behind a real loopback proxy that holds every read of their blocks by hash (the
    confirming read apart: ``sdex.settlement.confirm``) till released. Each row's receipt
    was believed only once confirmed (``rowreceipt.believed``), each read up to
    ``CONFIRM_WAIT`` (10 s), twice a row (the reconcile, the adoption), one row after the
    other: 80 s for four before the node served. Now the start's reads share one bound a
    phase (``START_CONFIRM_WAIT``): one held read each, the rows after it judged as not
    believed (their receipts confirmed later). Released, every row is marked ``mined`` as
    its receipt says, each pair filled once, nothing sent."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    sender = c.sender(OPERATOR)
    first = nonce(c.rpc, c.address(OPERATOR))
    txs, pairs = [], []
    try:
        for i in range(ROWS):
            a = c.sign(ask(c, ALICE, E18, (3000 + i) * E6))
            b = c.sign(bid(c, BOB, E18, (3000 + i) * E6))
            for seq, so in enumerate((a, b), 2 * i + 1):
                store.add_order(so, seq, "open", "api")
            data = c.exchange.encode_settlement([(a, b, E18)])
            tx = sender.sign_at(first + i, c.exchange.address, data, 400_000, fees=FEES)
            named = [(a.hash_hex, b.hash_hex)]
            await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, named))
            await asyncio.sleep(0.01)  # (read back in the order signed)
            txs.append(tx)
            pairs.append((a, b))
    finally:
        store.close()
    blocks = set()
    for tx in txs:
        c.rpc.call("eth_sendRawTransaction", tx.raw)
        got = c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)
        assert got is not None and got["status"] == "0x1", got
        blocks.add(got["blockHash"].lower())
    held: list[str] = []
    release = threading.Event()

    def hold(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        for call in calls:
            if not isinstance(call, dict) or call.get("method") != "eth_getBlockByHash":
                continue
            if str((call.get("params") or [""])[0]).lower() in blocks:
                held.append(str(call["params"][0]))
                release.wait(120)  # (then passed on)
        return None

    try:
        with _proxy(c.rpc.url, hold) as url:
            async with running_node(replace(cfg, rpc=url)) as (_, api):
                begun = len(held)
                # before: two held reads a row, one after the other (10 s each)
                assert 1 <= begun <= 2, (begun, held)
                release.set()

                def marked() -> bool:
                    return all(statuses(cfg.db).get(t.tx_hash) == "mined" for t in txs)

                await wait_for(marked, timeout=90)
                for a, b in pairs:
                    assert c.exchange.order_info(a.order).filled == E18
                    assert await api.status(a) == "filled" and await api.status(b) == "filled"
                assert nonce(c.rpc, c.address(OPERATOR)) == first + ROWS  # (nothing sent)
    finally:
        release.set()


class FailSends:
    """A proxy's ``intercept``: once ``armed``, the first ``n`` raw transactions sent are
    answered 502 (a balancer with no backend to give them to) and never passed on; their
    hashes in ``failed``, those passed on after in ``passed``."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.armed = threading.Event()
        self.failed: list[str] = []
        self.passed: list[str] = []

    def __call__(self, req: object) -> Answer | None:
        tx_hash = lone_send(req) if self.armed.is_set() else None
        if tx_hash is None:
            return None
        if len(self.failed) < self.n:
            self.failed.append(tx_hash)
            return 502, b"bad gateway"
        self.passed.append(tx_hash)
        return None


async def test_a_transfer_instead_whose_send_failed_is_sent_again(
    pooling: Chain, tmp_path: Path
) -> None:
    """A pooled settlement, its maker's soft cancel acknowledged, blocks over its fee cap: its
    transfer of nothing is sent at its nonce instead (``ReplacingLane._transfer_instead``),
    its first two sends answered 502. It is sent again at the next checks and takes the
    nonce, the match failed, the bid free again, within a minute (before: nothing sent
    again till the wait's ``RECEIPT_TIMEOUT``, 120 s, the bid held)."""
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    fail = FailSends(2)
    with base_fee_kept(c), _proxy(c.rpc.url, fail) as url:
        await fee_walked_to(c, 20 * GWEI)  # (async since fee97: unawaited, never walked)
        async with running_node(replace(node_config(c, tmp_path / "n.db"), rpc=url)) as (
            node,
            api,
        ):
            s = node.settler
            operator = node.sender.address
            count, tx, cap = await pooled_match(c, node, api, maker, taker)
            await soft_cancel(c, api, maker, ALICE)
            fail.armed.set()
            await wait_for(over_cap(c, cap + cap // 4, lambda: not s.in_flight), timeout=60)
            assert len(fail.failed) == 2 and fail.passed, (fail.failed, fail.passed)
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None  # (its nonce taken)
            assert nonce(c.rpc, operator) == count + 1
            assert c.exchange.order_info(maker.order).filled == 0
            assert s.withheld_cancels == 1 and s.settled == 0, (s.withheld_cancels, s.settled)

            async def freed() -> bool:  # (the failed match's result applied: the bid open)
                return await api.status(taker) == "open"

            await wait_for(freed, timeout=30)


class FailOne:
    """A proxy's ``intercept``: each send of the raw transaction ``raw`` answered with an
    error (a backend that will not take it now), never passed on; counted in ``told``."""

    def __init__(self, raw: str) -> None:
        self.raw, self.told = raw.lower(), 0

    def __call__(self, req: object) -> Answer | None:
        _, raws = raw_sends(req)
        if not isinstance(req, dict) or [r.lower() for r in raws] != [self.raw]:
            return None
        self.told += 1
        said = {"jsonrpc": "2.0", "id": req.get("id"), "error": {"code": -32000, "message": "busy"}}
        return 200, json.dumps(said).encode()


async def test_a_later_batch_at_a_nonce_not_sent_again_is_kept_till_its_nonce_is_taken(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two crossing pairs stored open; a settlement of the first at nonce n, then one of the
    second signed at n after it (its nonce given back: two batches pending at one nonce),
    at higher fees. At the restart the first is sent again and pooled (adopted); the
    second's send is refused by the backend asked (a real loopback proxy), its nonce not
    taken. It is kept, adopted, its pair held (before: ``alone`` counted the rows at its
    nonce, two, so it was given up at once, ``dropped``, and its pair matched again at
    n + 1: once its bytes, pooled at another backend, land at n, that one reverts). Its
    bytes then reach the chain (replacing the first's) and are mined: each pair settled
    once, the first's matched again after its nonce was taken."""
    c = pooling
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    n = nonce(c.rpc, c.address(OPERATOR))
    orders = [
        c.sign(ask(c, ALICE, E18, 3000 * E6)),
        c.sign(bid(c, BOB, E18, 3000 * E6)),
        c.sign(ask(c, ALICE, E18, 3100 * E6)),
        c.sign(bid(c, BOB, E18, 3100 * E6)),
    ]
    doubled = (2 * FEES[0], 2 * FEES[1])
    orders, first, over = await superseded_rows(c, cfg, FEES, doubled, orders)
    assert (first.nonce, over.nonce) == (n, n)
    busy = FailOne(over.raw)
    c.rpc.call("evm_setAutomine", False)  # (the first sent again stays pooled)
    with _proxy(c.rpc.url, busy) as url:
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            s = node.settler
            assert busy.told >= 1
            # before: the second given up, its pair matched again at n + 1
            assert {first.tx_hash, over.tx_hash} <= s.in_flight, (s.in_flight, statuses(cfg.db))
            assert s.adopted == 2, s.adopted
            await asyncio.sleep(1.0)  # (an uncross: nothing of the held pairs matched)
            assert nonce(c.rpc, c.address(OPERATOR), "pending") == n + 1
            assert statuses(cfg.db)[over.tx_hash] == "pending"
            c.rpc.call("eth_sendRawTransaction", over.raw)  # (from the other backend's pool)
            c.rpc.call("evm_mine")
            got = c.rpc.call("eth_getTransactionReceipt", over.tx_hash)
            assert got is not None and got["status"] == "0x1", got

            def settled() -> bool:  # (the first pair matched again past n, and mined)
                if c.exchange.order_info(orders[0].order).filled == E18:
                    return True
                c.rpc.call("evm_mine")
                return False

            await wait_for(settled, timeout=60)
            assert c.exchange.order_info(orders[2].order).filled == E18
            # (the second at n, the first pair's new match at n + 1: no revert, nothing twice;
            # the first's match failed, its nonce taken by the second)
            assert nonce(c.rpc, c.address(OPERATOR)) == n + 2
            assert statuses(cfg.db)[over.tx_hash] == "mined"


async def test_a_retried_adoption_keeps_the_start_s_one_confirming_bound(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """restart98 (left45): a pooled row, its maker's soft cancel acknowledged before the kill
    (off the book: its stored row read at adoption, ``_off_book``); the restart behind a real
    loopback proxy that answers the row's receipt reads with a lie (reverted, in a block the
    chain has not) and holds the reads of that block by hash (the confirming read apart), its
    store refusing the orders' reads at the adoption till two were refused (``_held_step``
    tries the adoption again). The adoption's confirming reads share one bound
    (``START_CONFIRM_WAIT``, shortened): the first try's held read spends it, the tries after
    ask nothing (the row adopted unread: its wait confirms it). Before, each try began a fresh
    bound (``_adopt_rows``' ``start_bound``): a held read each try."""
    c = pooling
    db = tmp_path / "n.db"
    monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
    monkeypatch.setattr("sdex.settlement.rowreceipt.START_CONFIRM_WAIT", 2.0)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    _, count = await pooled_and_killed(
        c, db, None, (maker, taker), lambda api: soft_cancel(c, api, maker, ALICE)
    )
    (tx,) = pending_rows(db)
    block = "0x" + "ab" * 32
    lie = {"transactionHash": tx, "blockHash": block, "blockNumber": "0x1", "status": "0x0"}
    lie |= {"gasUsed": "0x5208", "logs": [], "transactionIndex": "0x0"}
    held: list[str] = []
    release = threading.Event()

    def hold(req: object) -> Answer | None:
        if not isinstance(req, dict) or release.is_set():
            return None
        params = req.get("params") or [""]
        if req.get("method") == "eth_getTransactionReceipt" and params[0] == tx:
            said = {"jsonrpc": "2.0", "id": req.get("id"), "result": lie}
            return 200, json.dumps(said).encode()
        if req.get("method") == "eth_getBlockByHash" and str(params[0]).lower() == block:
            held.append(block)
            release.wait(120)  # (then passed on: the chain has no such block)
        return None

    refused: list[str] = []
    tries: list[int] = []  # (the held reads at each try's start, and at its end)
    real = NodeAdoption._adopt_rows

    async def adopt_rows(self: Any, rows: Any, *args: Any) -> None:
        reader = self.store._reader
        tries.append(len(held))
        if len(tries) == 1:
            reader.set_authorizer(refusing(refused))
        if len(refused) >= 2:
            reader.set_authorizer(None)
        try:
            await real(self, rows, *args)
        finally:
            tries.append(len(held))

    monkeypatch.setattr(NodeAdoption, "_adopt_rows", adopt_rows)
    try:
        with _proxy(c.rpc.url, hold) as url:
            async with running_node(replace(node_config(c, db), rpc=url)) as (node, _):
                s = node.settler
                await wait_for(lambda: s.adopted == 1, timeout=60)
                assert len(refused) >= 2 and len(tries) >= 6, (refused, tries)
                # (before: one held read a try, each up to its own fresh bound)
                assert tries[-1] - tries[0] <= 1, tries
                assert tx in s.in_flight, s.in_flight
                release.set()
                c.rpc.call("evm_mine")  # (the pooled row)
                await wait_for(lambda: statuses(db).get(tx) == "mined", timeout=60)
                assert nonce(c.rpc, c.address(OPERATOR)) == count + 1
    finally:
        release.set()
