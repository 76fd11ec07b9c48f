"""A subscriber's queue (``sdex.node.events.EventQueue``) keeps ``asyncio.Queue``'s contract
where a subscription relies on it: the bound, the order, and no item lost to a getter
cancelled after it was woken (anvil63 replaced ``asyncio.Queue`` for speed)."""

from __future__ import annotations

import asyncio

import pytest

from sdex.node.events import EventQueue


def test_bound_order_and_take() -> None:
    q: EventQueue[int] = EventQueue(3)
    for i in range(3):
        q.put_nowait(i)
    assert q.full() and q.qsize() == 3
    with pytest.raises(asyncio.QueueFull):
        q.put_nowait(3)
    assert q.qsize() == 3  # (the refused item was not queued)
    assert q.get_nowait() == 0
    assert q.take(1) == [1] and q.take(5) == [2] and q.take(5) == []
    assert q.empty()
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    unbounded: EventQueue[int] = EventQueue(0)
    for i in range(100):
        unbounded.put_nowait(i)
    assert not unbounded.full() and unbounded.take(100) == list(range(100))


async def test_get_waits_and_a_cancelled_getter_passes_its_wakeup_on() -> None:
    q: EventQueue[str] = EventQueue(10)
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)  # (both wait)
    assert not first.done() and not second.done()
    q.put_nowait("a")  # wakes the first getter...
    first.cancel()  # ...which is cancelled before it runs: the item goes to the second
    assert await asyncio.wait_for(second, 5) == "a"
    assert first.cancelled() and q.empty()
    q.put_nowait("b")
    assert await asyncio.wait_for(q.get(), 5) == "b"
