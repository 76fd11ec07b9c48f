"""Left53: the landing time (``StageTimes.landing``: how far past a match the chain may
judge its settlement, ``NodeState.now``) truncated the seconds a settlement took: a 3.9 s
landing counted as 3, so an order expiring 3.5 s out was still matched and its settlement
landed past its expiry (refused, the operator paying the gas). It is rounded up now, the
live queue's wait too."""

from __future__ import annotations

import asyncio
import time

from sdex.settlement.stages import FlightTimes, StageTimes


async def _landed(st: StageTimes, took: float) -> None:
    now = time.perf_counter()
    loop = asyncio.get_running_loop()
    formed = now - took
    t = FlightTimes(loop.create_future(), loop, formed=formed, signed=formed + 0.01)
    t.queued, t.send_start, t.send_end, t.receipt = formed + 0.02, formed + 0.03, now - 0.01, now
    st.add([formed], t, now, [])


async def test_a_landing_of_a_fraction_past_whole_seconds_counts_the_next_second() -> None:
    st = StageTimes()
    await _landed(st, 3.9)
    assert st.landing == 4, st.landing  # before: 3
    await _landed(st, 0.2)
    assert st.landing == 4, st.landing  # (the slowest remembered)
    st2 = StageTimes()
    await _landed(st2, 0.2)
    assert st2.landing == 1, st2.landing  # before: 0 (as if it landed in the same second)


async def test_the_live_queue_wait_is_rounded_up() -> None:
    submitted = [time.perf_counter() - 2.6]
    st = StageTimes(waiting=lambda: submitted)
    assert st.landing == 3, st.landing  # before: 2
    await _landed(st, 1.2)  # (1.2 s remembered, with the 2.6+ s queued: 3.8+ -> 4)
    assert st.landing == 4, st.landing  # before: 3
