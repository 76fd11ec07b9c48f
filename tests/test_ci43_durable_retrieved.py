"""CI on stop 43 failed once (tests/test_node_stop.py, SIGTERM under load): the node's log
had "Future exception was never retrieved ... _GatheringFuture ... CancelledError" with a
traceback. The watcher was waiting (``durable``) on a ``gather`` of a block's store writes
when the stop cancelled it; the stop then cancelled the block's row task, the gather ended
holding a ``CancelledError`` as its exception, and nobody was left to retrieve it."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest

from sdex.watch.changes import durable


async def test_a_cancelled_wait_on_others_futures_leaves_no_exception_unretrieved() -> None:
    loop = asyncio.get_running_loop()
    seen: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, ctx: seen.append(ctx))
    try:
        rows = asyncio.create_task(asyncio.Event().wait(), name="block-rows")
        waiter = asyncio.create_task(durable(asyncio.gather(rows), 60.0, lambda: None))
        await asyncio.wait({waiter}, timeout=0.05)  # (parked in ``durable``'s wait)
        waiter.cancel()  # the node stops: the watcher's task first
        with pytest.raises(asyncio.CancelledError):
            await waiter
        rows.cancel()  # then every task left (the loop's shutdown)
        await asyncio.wait({rows})
        for _ in range(3):  # (the gather's callbacks run, then nothing holds it)
            await asyncio.sleep(0)
        del waiter, rows
        gc.collect()
        assert not seen, [c.get("message") for c in seen]
    finally:
        loop.set_exception_handler(None)


async def test_the_waited_futures_outcome_is_still_the_callers() -> None:
    """Not cancelled: ``durable`` returns what the gather returns, raises what it raises."""
    ok = asyncio.get_running_loop().create_future()
    ok.set_result(7)
    assert await durable(asyncio.gather(ok), 1.0, lambda: None) == [7]
    bad = asyncio.get_running_loop().create_future()
    bad.set_exception(ValueError("row refused"))
    with pytest.raises(ValueError, match="row refused"):
        await durable(asyncio.gather(bad), 1.0, lambda: None)
