"""A block's row-write wait cancelled at shutdown logs nothing (the fresh-clone run of the
twenty-third session: ``_GatheringFuture exception was never retrieved`` with a traceback in a
node's log, ``tests/test_node_stop.py`` failing), and a write the store refused or cancelled
still counts as not stored. (The log came from ``asyncio.gather``'s future at a stop that
cancelled the wait; these in-process cases do not reproduce it on the old code: they pin the
wait's behaviour (``asyncio.wait`` now: it builds no future holding an exception).)"""

from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace
from typing import Any

import pytest

from sdex.node.registry import OrderRegistry
from sdex.store import StoreError


async def _logged_while(run: Any) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    logged: list[dict[str, Any]] = []
    old = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, ctx: logged.append(ctx))
    try:
        await run()
        for _ in range(3):
            gc.collect()
            await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(old)
    return logged


async def test_a_cancelled_wait_logs_nothing_and_leaves_the_writes_alone() -> None:
    loop = asyncio.get_running_loop()
    writes = [loop.create_future() for _ in range(3)]
    me = SimpleNamespace(_unstored=set())

    async def run() -> None:
        task = asyncio.ensure_future(
            OrderRegistry._committed(me, [(f, [f"h{i}"]) for i, f in enumerate(writes)])  # type: ignore[arg-type]
        )
        await asyncio.sleep(0)
        task.cancel()  # (twice, as a stop does: the node's, then asyncio.run's sweep)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        del task

    logged = await _logged_while(run)
    assert logged == []
    assert not any(f.done() for f in writes)  # (the store's: shielded, still pending)
    assert me._unstored == set()


@pytest.mark.parametrize("how", ["refused", "cancelled"])
async def test_a_write_refused_or_cancelled_is_not_stored(how: str) -> None:
    loop = asyncio.get_running_loop()
    ok, bad = loop.create_future(), loop.create_future()
    ok.set_result(None)
    if how == "refused":
        bad.set_exception(OSError("disk full"))
    else:
        bad.cancel()
    me = SimpleNamespace(_unstored=set())
    with pytest.raises(StoreError, match="1 order rows of the block not stored, hb's"):
        await OrderRegistry._committed(me, [(ok, ["ha"]), (bad, ["hb"])])  # type: ignore[arg-type]
    assert me._unstored == {"hb"}


def test_a_wait_cancelled_as_the_loop_closes_logs_no_unretrieved_exception() -> None:
    """The stop's case: the wait is cancelled and the loop closes before the task runs again
    (with ``gather`` its future then held a CancelledError nobody retrieved: logged)."""
    loop = asyncio.new_event_loop()
    logged: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: logged.append(str(ctx.get("message"))))
    writes = [loop.create_future() for _ in range(3)]
    me = SimpleNamespace(_unstored=set())
    task = loop.create_task(
        OrderRegistry._committed(me, [(f, [f"h{i}"]) for i, f in enumerate(writes)])  # type: ignore[arg-type]
    )
    loop.run_until_complete(asyncio.sleep(0))  # (the task waits on the writes)
    task.cancel()
    loop.run_until_complete(asyncio.sleep(0))  # (one turn: the waits cancelled, not the task)
    loop.close()
    del task, writes
    gc.collect()
    assert not [m for m in logged if "never retrieved" in m], logged


async def test_the_outcomes_of_a_walks_many_writes_are_looked_at_with_the_loop_running() -> None:
    """reset79: a reset's walk of 50,000 closed orders tracks a row write each; at its end,
    all committed, the pass over their outcomes held the loop 33-47 ms of CPU in one turn
    (``bench/reset79_walk_stalls.py --handles``: ``RowWrites._committed``, the walk's longest
    callback). Now the loop runs between parts of it; what failed is still said."""
    loop = asyncio.get_running_loop()
    writes = [loop.create_future() for _ in range(50_000)]
    for f in writes:
        f.set_result(None)
    writes[-1] = loop.create_future()
    writes[-1].set_exception(OSError("disk full"))
    me = SimpleNamespace(_unstored=set())
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    tick = asyncio.ensure_future(ticker())
    await asyncio.sleep(0)
    seen = turns
    try:
        with pytest.raises(StoreError, match="1 order rows of the block not stored, h49999's"):
            await OrderRegistry._committed(me, [(f, [f"h{i}"]) for i, f in enumerate(writes)])  # type: ignore[arg-type]
    finally:
        tick.cancel()
    assert turns - seen >= 5, f"the loop ran {turns - seen} times during the pass"
    assert me._unstored == {"h49999"}
