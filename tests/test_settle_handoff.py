"""The settlement record's way to the broadcast: urgent store writes (no group window), the
broadcast queued by the writer thread once the record is durable, never if it failed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import traceback
from concurrent.futures import Future
from pathlib import Path
from typing import Any, cast

import pytest

from sdex.node.settle import MAX_SETTLE_FAILURES
from sdex.sqlwriter import StoreError, Writer
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all

OPERATOR = 19


def _writer(path: Path, window: float) -> Writer:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("CREATE TABLE t (x INTEGER)")
    return Writer(db, window, 1000)


def fail_once(store: Any, method: str, times: int = 1, callers: tuple[str, ...] = ()) -> list[Any]:
    """Make ``store.method`` fail once (or ``times`` in a row), as a commit on a full disk
    would (its future raises ``StoreError``); the first arguments of the failed calls are
    returned (a list that fills). ``callers``: only calls made from code in files whose
    paths end so fail (others go through)."""
    real = getattr(store, method)
    calls: list[Any] = []

    def failing(first: Any, *args: Any) -> Future[Any]:
        if callers and not any(
            f.filename.endswith(callers) for f in traceback.extract_stack(limit=12)
        ):
            return cast("Future[Any]", real(first, *args))
        if len(calls) + 1 >= times:
            setattr(store, method, real)
        calls.append(first)
        fut: Future[Any] = Future()
        fut.set_exception(StoreError("commit failed: disk I/O error"))
        return fut

    setattr(store, method, failing)
    return calls


def test_an_urgent_job_cuts_the_group_window_short(tmp_path: Path) -> None:
    w = _writer(tmp_path / "w.db", window=60.0)
    try:
        hold = threading.Event()
        blocker = w.submit(lambda db: hold.wait(30))
        two = [w.submit(lambda db: db.execute("INSERT INTO t VALUES (1)")) for _ in range(2)]
        hold.set()
        for f in [blocker, *two]:
            f.result(timeout=30)
        assert w.largest >= 2  # the last group was busy: the next one waits out the window
        slow = w.submit(lambda db: db.execute("INSERT INTO t VALUES (2)"))
        urgent = w.submit(lambda db: db.execute("INSERT INTO t VALUES (3)"), urgent=True)
        urgent.result(timeout=30)  # (without ``urgent``: after the 60 s window)
        slow.result(timeout=30)  # queued first, in the same transaction
        # (urgent too: a plain read would wait out the 60 s window, for nothing)
        rows = w.submit(lambda db: db.execute("SELECT x FROM t ORDER BY x").fetchall(), urgent=True)
        assert [r[0] for r in rows.result(timeout=30)] == [1, 1, 2, 3]
    finally:
        w.close()


async def test_a_settlement_goes_out_only_once_its_record_is_durable(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6))])
        nonce = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "pending"), 16)
        hold = threading.Event()
        held = node.store._writer.submit(lambda db: hold.wait(30))  # the writer is busy
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        post = asyncio.create_task(api.post_order(taker))  # (answered once its row commits)
        try:
            await wait_for(lambda: len(node.settler.in_flight) == 1)  # signed, recording
            # not durable yet: not broadcast
            pending = c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "pending")
            assert int(pending, 16) == nonce
        finally:
            hold.set()
        held.result(timeout=30)
        assert (await post)[0] == 201

        async def done() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(done)
        assert node.settler.settled == 1 and node.settler.sent == 1


async def test_a_settlement_whose_record_fails_is_never_sent(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        maker = c.sign(ask(c, CAROL, E18, 3000 * E6))
        await post_all(api, [maker])
        nonce = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "pending"), 16)
        refused = fail_once(node.store, "add_settlement")
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201

        async def done() -> bool:
            return await api.status(taker) == "filled"

        # given back, matched again, and recorded and sent the second time
        await wait_for(done)
        assert len(refused) == 1 and node.settler.failed == 1 and node.settler.settled == 1
        # one transaction on the operator's lane: the refused one never reached the chain
        # (the one sent has its nonce: signed again alike, it may well have the same hash)
        assert node.settler.sent == 1
        after = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "pending"), 16)
        assert after == nonce + 1


async def test_refused_records_do_not_count_against_the_orders(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: a batch the store refused went through the diagnosis and used up the
    orders' ``MAX_SETTLE_FAILURES``, so a store failing a few times in a row removed an
    innocent taker. Refused more times than that, the match still settles in the end."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", operator=OPERATOR)) as (node, api):
        await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6))])
        refused = fail_once(node.store, "add_settlement", times=MAX_SETTLE_FAILURES + 1)
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201

        async def done() -> bool:
            return await api.status(taker) == "filled"

        await wait_for(done)
        assert len(refused) == MAX_SETTLE_FAILURES + 1
        assert node.settler.refused == MAX_SETTLE_FAILURES + 1 and node.settler.settled == 1
        assert node.settler.sent == 1  # (and no chain read to judge them: nothing was sent)
        assert all(rec.failures == 0 for rec in node.records.values())


@pytest.mark.parametrize(("with_send", "times"), [(True, 1), (False, 1), (False, 3)])
async def test_a_failed_fills_write_is_written_again(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, with_send: bool, times: int
) -> None:
    """Review findings: the chain thread's fills write failing made the node skip its own,
    the fills' events and the rest of the settlement's results; and when the node's own
    write failed (no receipt with the send: anvil, or a send that was not alone), the
    store's error ended the settlement task and the fills were never written again by it.
    ``with_send``: the receipt may come with the send (the early write is then the first
    to fail; Hardhat answers 19 sends in 20 so), else never (the node's own write fails)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", poll_interval=3600.0)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        if not with_send:
            node.settler.broadcaster.early = lambda receipt: receipt  # type: ignore[method-assign]
        ended: list[BaseException | None] = []
        landed = node.settler._landed

        def spy(task: Any) -> None:
            ended.append(None if task.cancelled() else task.exception())
            landed(task)

        node.settler._landed = spy  # type: ignore[method-assign]
        await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6))])
        settlement = ("/node/settlefills.py", "/settlement/broadcast.py")  # (not the watcher's)
        failed = fail_once(node.store, "add_fills_soon", times=times, callers=settlement)
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: bool(ended))
        assert (await api.get("/v1/fills"))[1]["total"] == 2
        assert len(failed) == times and all(len(f) == 2 for f in failed)
        assert node.settler.settled == 1 and ended == [None]  # the task ended cleanly
        said = [r.message for r in caplog.records]
        again = ("fills write queued with the receipt failed", "settlement's fills write failed")
        assert any(a in m for a in again for m in said), said  # the settlement's path retried


async def test_fills_that_no_write_stored_are_stored_before_the_head_is_saved(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: when the settlement's fills write failed every time, and the
    watcher's write of the same block failed too, the fills stayed missing until a rescan
    (the watcher only logged the error, and saved its head past the block: a restart did
    not read the block again). Now the watcher does not save its head while a block's
    fills are not durable, and writes them again until they are."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR, poll_interval=3600.0)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        real = node.store.add_fills_soon
        refused: list[int] = []

        def refusing(fills: Any) -> Future[Any]:  # a disk that refuses every fills write
            refused.append(len(fills))
            fut: Future[Any] = Future()
            fut.set_exception(StoreError("commit failed: disk I/O error"))
            return fut

        node.store.add_fills_soon = refusing  # type: ignore[method-assign]
        await post_all(api, [c.sign(ask(c, CAROL, E18, 3000 * E6))])
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: node.settler.settled == 1)
        (tx,) = node.settler.ours
        block = int(c.rpc.call("eth_getTransactionReceipt", tx)["blockNumber"], 16)
        # the node gave up on its own write; the watcher reached the block and failed too
        await wait_for(lambda: len(refused) >= 6 and node.watcher.status == "failing")
        assert node.watcher.mirror.head is not None and node.watcher.mirror.head.number >= block
        saved = node.store.checkpoint()
        assert saved is not None and saved[0] < block, "head saved past fills not stored"
        assert (await api.get("/v1/fills"))[1]["total"] == 0
        failures = node.watcher.failures
        await wait_for(lambda: node.watcher.failures > failures)  # tried again, still refused
        node.store.add_fills_soon = real  # type: ignore[method-assign]
        await wait_for(lambda: node.watcher.status == "ok", timeout=20.0)
        assert (await api.get("/v1/fills"))[1]["total"] == 2
        saved = node.store.checkpoint()
        assert saved is not None and saved[0] >= block
        fills = (await api.get("/v1/fills"))[1]["records"]
        assert {(f["transactionHash"], f["settledByThisNode"]) for f in fills} == {(tx, True)}
