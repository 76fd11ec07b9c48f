"""``sdex.gossip.stream.cancel_all`` (the node's stop, gossip's and streams'): every task
ended and its outcome retrieved, and a cancel of the caller itself not swallowed.

cancel19 found each ``await t`` under ``suppress(CancelledError, Exception)``: a cancel
meant for the caller (a stop cancelled by its own deadline, a Ctrl-C's) was taken for the
task's and dropped, so the stop went on waiting; a task that ignores its cancel then held
it with no way out."""

from __future__ import annotations

import asyncio
import gc

import pytest

from sdex.gossip.stream import cancel_all


async def test_tasks_end_and_what_they_raised_is_retrieved() -> None:
    loop = asyncio.get_running_loop()
    unretrieved: list[object] = []
    loop.set_exception_handler(lambda _loop, ctx: unretrieved.append(ctx.get("message")))

    async def fails() -> None:
        raise RuntimeError("boom")

    async def sleeps() -> None:
        await asyncio.sleep(3600)

    tasks = [asyncio.ensure_future(fails()), asyncio.ensure_future(sleeps())]
    await asyncio.sleep(0)
    await cancel_all(tasks)
    assert all(t.done() for t in tasks) and tasks[1].cancelled()
    del tasks
    gc.collect()
    assert unretrieved == [], unretrieved


async def test_a_cancel_of_the_caller_is_not_swallowed() -> None:
    """A task that ignores its first cancel (cleanup that shields itself, say) holds
    ``cancel_all``; cancelling the caller ends the caller cancelled, at once (before: the
    cancel was taken for the task's and the caller went on waiting for it)."""
    release = asyncio.Event()

    async def stubborn() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await release.wait()  # (ignores the cancel until released)

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    caller = asyncio.ensure_future(cancel_all([task]))
    await asyncio.sleep(0.01)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(5):
            await caller
    assert caller.cancelled()
    release.set()
    await task
