"""A turn's signature recoveries ride the store writer's hand-over (``Writer.aside_soon``):
one hand-over, one thread woken a turn for both; recovered before the rows handed over with
them are committed; the same verdicts, in order; none lost when the store closes."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import threading
from pathlib import Path

from sdex import sqlwriter
from sdex.ingest.verify import EcdsaBatcher, ecdsa_ok
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, address_of, random_salt, sign_order
from sdex.sqlwriter import Aside, Writer

DOMAIN = Domain(31337, "0x" + "ab" * 20)


def _signed(i: int) -> SignedOrder:
    key = (i + 1).to_bytes(32, "big")
    o = Order(
        address_of(key), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, random_salt(),
    )  # fmt: skip
    return sign_order(o, DOMAIN, key)


def _writer(path: Path, group_window: float = 0.002) -> Writer:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("CREATE TABLE t (x INTEGER)")
    return Writer(db, group_window=group_window, max_group=1024)


def _insert(x: int) -> sqlwriter.Fn:
    return lambda c: c.execute("INSERT INTO t VALUES (?)", (x,))


async def test_a_turns_recoveries_and_rows_go_in_one_hand_over(tmp_path: Path) -> None:
    w = _writer(tmp_path / "w.db")
    seen: list[tuple[str, int]] = []  # (the thread an aside ran on, rows committed then)

    def counted() -> int:
        with sqlite3.connect(tmp_path / "w.db") as other:
            n: int = other.execute("SELECT COUNT(*) FROM t").fetchone()[0]
        return n

    def collect() -> Aside:
        return lambda: seen.append((threading.current_thread().name, counted()))

    batcher = EcdsaBatcher(chunk=3, thread_min=4)
    good = [_signed(i) for i in range(10)]
    forged = dataclasses.replace(good[0], order=good[1].order)
    orders = [*good, forged, dataclasses.replace(good[2], signature=b"\x01" * 100)]
    await w.submit_async(_insert(100))  # (this loop's writer, as a node's store is)
    hand_overs, commits = w.hand_overs, w.commits

    async def rows() -> list[None]:
        waits = [w.submit_async(_insert(i)) for i in range(2)]
        assert w.aside_soon(collect)
        return await asyncio.gather(*waits)

    # one turn: a batch of recoveries, two rows someone waits for, an aside
    checks = [asyncio.ensure_future(batcher.ecdsa_ok(s)) for s in orders]
    stored = asyncio.ensure_future(rows())
    verdicts = await asyncio.gather(*checks)
    await stored
    assert verdicts == [ecdsa_ok(s) for s in orders] == [True] * 10 + [False, None]
    assert w.hand_overs - hand_overs == 1  # all of the turn's: one hand-over
    assert seen == [("sdex-store", 1)]  # on the writer's thread, before the rows' commit
    assert (batcher.checked, batcher.batches, batcher.inline) == (11, 4, 0)
    assert w.asides == 2 and w.commits - commits == 1
    w.close()


async def test_recoveries_go_to_their_own_thread_where_no_writer_rides() -> None:
    """No store on this loop (or ``ride`` off, as before): the recovery thread, same verdicts."""
    batcher = EcdsaBatcher(chunk=4)
    orders = [_signed(20 + i) for i in range(9)]
    assert await asyncio.gather(*(batcher.ecdsa_ok(s) for s in orders)) == [True] * 9
    assert batcher.checked == 9


async def test_recoveries_queued_as_the_store_closes_are_not_lost(tmp_path: Path) -> None:
    """The store closed between a turn's recoveries and its hand-over: they are recovered
    anyway (on the loop), every waiter answered; after that, the recovery thread."""
    w = _writer(tmp_path / "w.db")
    await w.submit_async(_insert(1))  # (this loop's writer, as a node's store is)
    assert sqlwriter.writer_of(asyncio.get_running_loop()) is w
    batcher = EcdsaBatcher(chunk=2)
    orders = [_signed(40 + i) for i in range(6)]
    waits = [asyncio.ensure_future(batcher.ecdsa_ok(s)) for s in orders]
    await asyncio.sleep(0)  # queued for the writer's hand-over, not handed over yet
    w.close()
    assert await asyncio.wait_for(asyncio.gather(*waits), 10) == [True] * 6
    assert w.asides == 0
    assert sqlwriter.writer_of(asyncio.get_running_loop()) is None
    assert not w.aside_soon(lambda: None)
    later = [_signed(50 + i) for i in range(5)]
    assert (
        await asyncio.wait_for(asyncio.gather(*(batcher.ecdsa_ok(s) for s in later)), 10)
        == [True] * 5
    )
    assert batcher.checked == 11


async def test_a_failing_aside_leaves_the_writer_working(tmp_path: Path) -> None:
    w = _writer(tmp_path / "w.db", group_window=0.0)

    def boom() -> None:
        raise RuntimeError("an aside's own bug")

    assert w.aside_soon(lambda: boom)
    await w.submit_async(_insert(7))
    assert await w.submit_async(lambda c: c.execute("SELECT x FROM t").fetchone()[0]) == 7
    w.close()
