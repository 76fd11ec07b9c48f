"""``LoopTurns``: the event loop's turns, counted at its selector (``/health`` ``loopTurns``,
which ``bench/gossip.py`` turns into wake-ups per order and node)."""

from __future__ import annotations

import asyncio
import threading

from sdex.gossip.timing import LoopTurns


async def test_turns_are_counted_once_however_often_installed() -> None:
    turns = LoopTurns()
    loop = asyncio.get_running_loop()
    turns.install(loop)
    turns.install(loop)  # (a second Gossip in the same process: not counted twice)
    before = turns.to_json()
    for _ in range(20):
        await asyncio.sleep(0)
    got = turns.to_json()
    # each sleep(0) is one turn; a turn or two more around the loop's own steps
    assert 20 <= got["turns"] - before["turns"] <= 23, (before, got)
    assert got["slept"] - before["slept"] <= 2  # ready callbacks: the loop polled, never slept


async def test_a_threads_hand_back_is_a_woken_turn_after_a_sleep() -> None:
    turns = LoopTurns()
    loop = asyncio.get_running_loop()
    turns.install(loop)
    before = turns.to_json()
    fut: asyncio.Future[int] = loop.create_future()
    started = threading.Event()

    def later() -> None:
        started.wait(10)
        loop.call_soon_threadsafe(fut.set_result, 1)

    t = threading.Thread(target=later)
    t.start()
    loop.call_soon(started.set)  # (the loop is in its select when the thread hands back)
    assert await asyncio.wait_for(fut, 10) == 1
    t.join(10)
    got = turns.to_json()
    assert got["woken"] - before["woken"] >= 1  # the self-pipe's byte
    assert got["slept"] - before["slept"] >= 1  # it had nothing ready while it waited
    assert got["turns"] - before["turns"] >= got["woken"] - before["woken"]


def test_a_loop_without_a_selector_is_left_alone() -> None:
    class NoSelector:
        pass

    turns = LoopTurns()
    turns.install(NoSelector())  # type: ignore[arg-type]
    assert turns.to_json() == {"turns": 0, "woken": 0, "slept": 0}
