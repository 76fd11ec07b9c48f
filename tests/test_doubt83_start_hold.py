"""doubt83: a start in a chain doubt whose saved head cannot be read by hash holds; it does not
fail (review82a's fifth hole in doubt82).

doubt82 reads a start's stored orders in a doubt at the mirror's head named by its hash
(EIP-1898), asked five times, then the start failed: a pruned node with an old head, a head
reorged away, or a provider without EIP-1898 for ``eth_call`` meant a node behind a flapping
endpoint never started. Now the node starts with matching and settlement held, the orders out
of the book, read again till the doubt ends or the head is read, and judged then; a read at
"latest" (out of the doubt, the head not read by hash) met by a doubt said meanwhile is read
again, not taken. Real chain of the suite's engine, a real node on its SQLite store stopped
and started again in this process behind real proxies on loopback: two ``flapping_proxy``
answering the saved head's block with two other hashes (the start's check: in doubt), and one
refusing every ``eth_call`` named by a block hash (a provider without EIP-1898)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from sdex.mirror import Mirror
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.heldstart import cancelled_states, first_run, in_doubt, left_row
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_held79_doubt_settlements import WHY, proven
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_review66_adopt_landed import OPERATOR
from tests.test_review74a_flapped_head import _saved_head

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)

FOREIGN_BALANCE = 7
"""The maker's balance the other chain answers."""


@contextmanager
def no_by_hash_proxy(upstream: str, data: str) -> Iterator[tuple[str, dict[str, object]]]:
    """The URL of a proxy to ``upstream`` that refuses every ``eth_call`` named by a block
    hash (a provider without EIP-1898), and holds the first ``eth_call`` of ``data`` at
    "latest" once its dict's ``arm`` event is set, setting ``caught``, till ``release`` is
    set, then answers it as another chain where the order was cancelled; its counts."""
    arm, caught, release = threading.Event(), threading.Event(), threading.Event()
    told: dict[str, object] = {"byHash": 0, "foreign": 0}
    told.update(arm=arm, caught=caught, release=release)
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_call":
            return None
        params = req.get("params") or []
        if len(params) > 1 and isinstance(params[1], dict):
            with lock:
                told["byHash"] = int(str(told["byHash"])) + 1
            error = {"code": -32602, "message": "invalid argument 1: hex string without 0x"}
            return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": error}).encode()
        if not arm.is_set() or not isinstance(params[0], dict) or params[0].get("data") != data:
            return None
        with lock:
            if caught.is_set():
                return None
            caught.set()
        release.wait(60)
        answer = cancelled_states(upstream, req, FOREIGN_BALANCE)
        with lock:
            told["foreign"] = 1
        return answer

    with _proxy(upstream, intercept) as url:
        try:
            yield url, told
        finally:
            release.set()


async def posted_and_stopped(c: Chain, cfg: NodeConfig, salt: int) -> tuple[SignedOrder, int, str]:
    """ALICE's ask (salt ``salt``) posted to ``cfg``'s node, stopped: the ask, the head it
    saved, and the calldata of the Exchange's read of the ask's state."""
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=salt))
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(maker))[0] == 201
    return maker, _saved_head(cfg.db), "0x" + c.exchange.encode_order_states([maker]).hex()


async def _filled_by_a_crossing_bid(c: Chain, api: object, maker: object, salt: int) -> None:
    code, body = await api.post_order(c.sign(bid(c, BOB, E18, 3000 * E6, salt=salt)), "ioc")  # type: ignore[attr-defined]
    assert code == 201 and len(body["matches"]) == 1, body

    async def filled() -> bool:
        return await api.status(maker) == "filled"  # type: ignore[attr-defined]

    await wait_for(filled, timeout=60)


async def test_a_start_in_doubt_whose_head_is_not_read_by_hash_starts_held(
    chain: Chain, tmp_path: Path
) -> None:
    """An open ask stored, the node stopped; the restart's check of the saved head meets two
    other hashes (in doubt) and the endpoint refuses every read named by a block hash. The
    node starts (before: the start failed after five reads), the ask open and never matched
    while held; once the doubt ends it is read (at "latest": no read by hash) and a crossing
    bid fills it."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker, head, data = await posted_and_stopped(c, cfg, 8311)
    with (
        no_by_hash_proxy(c.rpc.url, data) as (surl, told),
        in_doubt(surl, head) as (url, first, second),
    ):
        async with running_node(replace(cfg, rpc=url)) as (node, api):  # (before: ChainError)
            assert first == [1] and second == [1] and int(str(told["byHash"])) >= 1, told
            assert await api.status(maker) == "open"
            await wait_for(lambda: maker.hash in node.book and not node.held_why(), timeout=60)
            assert node.watcher.resets == 0
            assert await api.status(maker) == "open"
            await _filled_by_a_crossing_bid(c, api, maker, 8312)


async def test_a_doubt_said_during_the_held_starts_latest_read_voids_it(
    chain: Chain, tmp_path: Path
) -> None:
    """As above, the doubt ended; the held start's read at "latest" is held by the endpoint
    till a doubt is said (as the watcher says one), then answered as another chain where the
    maker cancelled the ask. The read is not taken: the ask stays open, read again once the
    doubt ends, and a crossing bid fills it."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker, head, data = await posted_and_stopped(c, cfg, 8321)
    with (
        no_by_hash_proxy(c.rpc.url, data) as (surl, told),
        in_doubt(surl, head) as (url, first, second),
    ):
        arm, caught, release = (told[k] for k in ("arm", "caught", "release"))
        assert isinstance(arm, threading.Event) and isinstance(caught, threading.Event)
        assert isinstance(release, threading.Event)
        arm.set()  # (the first read of the ask at "latest": the held start's)
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert first == [1] and second == [1]
            await wait_for(caught.is_set, timeout=60)
            node.mirror.doubt.said("another chain's answer (the test's)")  # (as a poll says)
            release.set()
            await wait_for(lambda: told["foreign"] == 1, timeout=30)
            await asyncio.sleep(0)
            assert await api.status(maker) == "open"  # (before the fix: "cancelled")
            await wait_for(lambda: maker.hash in node.book and not node.held_why(), timeout=60)
            assert await api.status(maker) == "open"
            account = (maker.order.maker, maker.order.maker_token)
            learned = node.mirror.funds.get(account)
            assert learned is None or FOREIGN_BALANCE not in learned, learned
            await _filled_by_a_crossing_bid(c, api, maker, 8322)


@contextmanager
def forging_proxy(
    upstream: str, data: str, forging: Callable[[], bool]
) -> Iterator[tuple[str, list[int]]]:
    """The URL of a proxy to ``upstream`` answering the ``eth_call`` of ``data`` at "latest"
    as another chain where the order was cancelled while ``forging()`` (a backend of another
    chain, while the node's doubt stands), forwarding it else; and the count of forged
    answers."""
    told = [0]

    def intercept(req: object) -> Answer | None:
        if not forging() or not isinstance(req, dict) or req.get("method") != "eth_call":
            return None
        params = req.get("params") or []
        if not params or not isinstance(params[0], dict) or params[0].get("data") != data:
            return None
        if len(params) > 1 and isinstance(params[1], dict):  # (by hash: not that chain's)
            error = {"code": -32000, "message": "header not found"}
            return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": error}).encode()
        answer = cancelled_states(upstream, req)
        told[0] += 1
        return answer

    with _proxy(upstream, intercept) as url:
        yield url, told


async def test_a_start_in_doubt_with_no_head_of_ours_closes_nothing_on_latest(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store with an open ask and no saved head (a reset's clear, then a kill before the
    replay saved one); the start is in doubt from before its reconcile, and the chain's
    "latest" answers as another chain where the maker cancelled the ask. The start holds
    (before: it read the ask at "latest" and closed it "cancelled" for good); once the doubt
    ends, our chain's answers read it open, and a crossing bid fills it."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=8331))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(maker, 1, "open", "api")
    store.close()
    real = core.reconcile
    mirrors: list[Mirror] = []

    async def in_doubt(lane: Any) -> Any:  # (said before the orders' read: no head to name)
        assert lane.mirror.head is None
        mirrors.append(lane.mirror)
        lane.mirror.doubt.said(WHY)
        return await real(lane)

    def forging() -> bool:  # (another chain's answers while the doubt stands)
        return bool(mirrors and mirrors[0].doubt.held)

    monkeypatch.setattr(core, "reconcile", in_doubt)
    data = "0x" + c.exchange.encode_order_states([maker]).hex()
    with forging_proxy(c.rpc.url, data, forging) as (url, told):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert await api.status(maker) == "open", told  # (before: "cancelled")
            if node.mirror.doubt.held:  # (the watcher's polls may have proven it already)
                assert maker.hash not in node.book and node.held_why()
                proven(node.mirror.doubt)
            await wait_for(lambda: maker.hash in node.book and not node.held_why(), timeout=60)
            assert await api.status(maker) == "open"
            await _filled_by_a_crossing_bid(c, api, maker, 8332)


async def test_a_held_start_adopts_what_the_last_run_left_once_its_orders_are_read(
    chain: Chain, tmp_path: Path
) -> None:
    """doubt82's row mined above the saved head before a start in doubt, the endpoint
    refusing reads by block hash: the start holds (before: it failed), nothing matched nor
    adopted meanwhile; once the doubt ends the orders are read (at "latest", the row's fill
    in them) and the row is not adopted (landed by the head asked after), marked ``mined``;
    the remainders are matched and settled once: both filled in full on chain."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    head = await first_run(c, cfg, 8351)
    resting, incoming, tx = await left_row(c, cfg, 2, 8352)  # (half of each)
    c.rpc.call("eth_sendRawTransaction", tx.raw)  # (mined before the start, above the head)
    assert int(c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)["blockNumber"], 16) > head
    with (
        no_by_hash_proxy(c.rpc.url, "0x") as (surl, told),
        in_doubt(surl, head) as (url, first, second),
    ):
        async with running_node(replace(cfg, rpc=url)) as (node, api):  # (before: ChainError)
            s = node.settler
            assert first == [1] and second == [1] and int(str(told["byHash"])) >= 1, told

            async def filled() -> bool:  # (the remainders matched again and settled)
                statuses = {await api.status(resting), await api.status(incoming)}
                return statuses == {"filled"} and s.idle.is_set() and not s.in_flight

            await wait_for(filled, timeout=60)
            assert s.adopted == 0 and s.sent == 1 and s.failed == 0, (s.adopted, s.sent)
            assert c.exchange.order_info(resting.order).filled == 2 * E18
            assert c.exchange.order_info(incoming.order).filled == 6000 * E6
        with sqlite3.connect(cfg.db) as conn:
            rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
        assert rows[tx.tx_hash] == "mined", rows
