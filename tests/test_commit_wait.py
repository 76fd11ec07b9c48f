"""``CommitWaits``: a wallet order's wait for its own row, bounded with one timer for all of
them (http17). Each wait still fails past its own bound, whatever came before it; a wait
done is never failed; the waits done are dropped, not kept until their deadlines."""

from __future__ import annotations

import asyncio

import pytest

from sdex.node.commitwait import CommitWaits
from sdex.store import StoreError


async def test_a_wait_past_its_bound_fails_and_one_done_in_time_keeps_its_result() -> None:
    loop = asyncio.get_running_loop()
    waits = CommitWaits()
    stalled: asyncio.Future[None] = loop.create_future()
    quick: asyncio.Future[None] = loop.create_future()
    waits.bound(quick, 0.05)
    waits.bound(stalled, 0.05)
    quick.set_result(None)
    with pytest.raises(StoreError, match=r"not committed within 0.05 s \(the store stalls\)"):
        await asyncio.wait_for(stalled, 10)
    assert quick.result() is None
    assert len(waits) == 0  # (nothing left to time: no timer either)


@pytest.mark.parametrize(
    "bounds",
    [
        [30.0, 0.05],  # a shorter bound after a longer one (a test's store_wait lowered)
        [30.0, 30.0, 0.05, 30.0],
        [0.05, 30.0],
    ],
)
async def test_each_wait_fails_at_its_own_bound_whatever_came_before(bounds: list[float]) -> None:
    loop = asyncio.get_running_loop()
    waits = CommitWaits()
    futs: list[asyncio.Future[None]] = [loop.create_future() for _ in bounds]
    for f, within in zip(futs, bounds, strict=True):
        waits.bound(f, within)
    short = [f for f, w in zip(futs, bounds, strict=True) if w < 1]
    done, _ = await asyncio.wait(short, timeout=10)
    assert done == set(short)
    for f in short:
        with pytest.raises(StoreError, match="stalls"):
            f.result()
    long = [f for f, w in zip(futs, bounds, strict=True) if w >= 1]
    assert not any(f.done() for f in long)  # (30 s: still waiting)
    assert len(waits) == len(long)
    for f in long:
        f.set_result(None)


async def test_waits_done_are_dropped_as_new_ones_come() -> None:
    """A node's steady flow: each order's row commits soon after it came; the queue holds
    about the waits in flight, not every wait of the last ``store_wait`` seconds."""
    loop = asyncio.get_running_loop()
    waits = CommitWaits()
    in_flight: list[asyncio.Future[None]] = []
    for _ in range(2_000):
        f: asyncio.Future[None] = loop.create_future()
        waits.bound(f, 30.0)
        in_flight.append(f)
        if len(in_flight) > 8:
            in_flight.pop(0).set_result(None)
    assert len(waits) <= 9
    for f in in_flight:
        f.set_result(None)


async def test_a_wait_whose_waiter_went_away_is_left_alone() -> None:
    """The request cancelled (its future with it): the deadline sets nothing on it."""
    loop = asyncio.get_running_loop()
    waits = CommitWaits()
    gone: asyncio.Future[None] = loop.create_future()
    other: asyncio.Future[None] = loop.create_future()
    waits.bound(gone, 0.05)
    waits.bound(other, 0.05)
    gone.cancel()
    with pytest.raises(StoreError):
        await asyncio.wait_for(other, 10)
    assert gone.cancelled()


def test_a_node_started_again_on_another_loop_still_bounds_its_waits() -> None:
    """A wait left on a loop that closed (its timer will never run) must not keep a later
    loop's waits unbounded: without the loop check the second wait, due after the dead
    timer, armed no timer of its own and waited for ever."""
    waits = CommitWaits()

    async def first() -> None:
        waits.bound(asyncio.get_running_loop().create_future(), 1.0)  # (never done)

    async def second() -> None:
        f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waits.bound(f, 2.0)  # (due after the dead loop's timer)
        with pytest.raises(StoreError, match="stalls"):
            await asyncio.wait_for(f, 10)

    asyncio.run(first())
    asyncio.run(second())
    assert len(waits) == 0
