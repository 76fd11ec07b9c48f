"""``forwardTiming``'s span to the pushes' writes (``sdex.node.forwarding``) ends in the turn
after the one in which gossip spawned the order's pushes (``Gossip._announce_fresh`` calls
``ForwardTiming.spawned``), whatever the turns before did; measured with a clock that counts
the event loop's turns."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sdex.node.forwarding import ForwardTiming
from tests.nodeutil import wait_for


class Turns:
    """A clock that reads the event loop's turn: a callback that re-schedules itself first
    in every turn counts them."""

    def __init__(self) -> None:
        self.now = 0.0
        self.running = True

    def tick(self) -> None:
        self.now += 1
        if self.running:
            asyncio.get_running_loop().call_soon(self.tick)


class Driver:
    """What ``Gossip`` does with a hand-over: the turn's orders go to its core at the end of
    the turn (``call_soon``), their push tasks are spawned then and write in the turn after."""

    def __init__(self, fw: ForwardTiming, clock: Turns) -> None:
        self.fw, self.clock = fw, clock
        self.fresh: list[str] = []
        self.written: dict[str, float] = {}

    def announce(self, name: str) -> None:
        if not self.fresh:
            asyncio.get_running_loop().call_soon(self._announce_fresh)
        self.fresh.append(name)

    def _announce_fresh(self) -> None:
        fresh, self.fresh = self.fresh, []
        for name in fresh:  # (the push task's first step: next turn)
            asyncio.get_running_loop().call_soon(self._write, name)
        self.fw.spawned()

    def _write(self, name: str) -> None:
        self.written[name] = self.clock.now


def intake(fw: ForwardTiming, driver: Driver, name: str, source: str = "peer") -> None:
    """One intake call of one order: started and handed over in this turn."""
    started = fw.start()
    driver.announce(name)
    fw.handed_over()
    fw.add(source, started, fw.last(), 1)


async def _run(steps: list[Callable[[], None]], clock: Turns, fw: ForwardTiming) -> None:
    """``steps[k]`` runs in turn k + 1 (after the clock's tick)."""
    loop = asyncio.get_running_loop()
    clock.running = True
    loop.call_soon(clock.tick)

    def at(k: int) -> None:
        if k < len(steps):
            steps[k]()
            loop.call_soon(at, k + 1)

    loop.call_soon(at, 0)

    async def done() -> bool:
        return fw._due is None and clock.now > len(steps) + 2

    await wait_for(done, timeout=10)
    clock.running = False


async def test_back_to_back_turns_each_end_at_their_own_pushes() -> None:
    """An order handed over in the turn in which the previous one's pushes are spawned is
    spawned a turn later: its span runs to its own pushes' turn, not the earlier one's
    (before: one turn short)."""
    clock = Turns()
    fw = ForwardTiming(wall_clock=lambda: clock.now, cpu_clock=lambda: clock.now)
    driver = Driver(fw, clock)
    await _run([lambda: intake(fw, driver, "a"), lambda: intake(fw, driver, "b")], clock, fw)
    # a: handed over in turn 1, spawned in 2, written in 3; b: 2, 3, 4
    assert driver.written == {"a": 3, "b": 4}
    out = fw.to_json()["peer"]
    assert out["orders"] == 2
    assert out["sentWallS"] == (3 - 1) + (4 - 2)
    assert out["sentCpuS"] == out["sentWallS"]
    assert out["wallS"] == 0  # (hand-over in the intake's own turn)


async def test_orders_of_one_turn_share_its_pushes_turn() -> None:
    """Orders handed over in one turn (a wallet's and a peer's) go to the core together."""
    clock = Turns()
    fw = ForwardTiming(wall_clock=lambda: clock.now, cpu_clock=lambda: clock.now)
    driver = Driver(fw, clock)

    def both() -> None:
        intake(fw, driver, "a", "wallet")
        intake(fw, driver, "b")

    await _run([both, lambda: None, lambda: intake(fw, driver, "c")], clock, fw)
    assert driver.written == {"a": 3, "b": 3, "c": 5}
    out = fw.to_json()
    assert out["wallet"]["sentWallS"] == 2 and out["peer"]["sentWallS"] == 2 + 2


def test_a_loop_that_stopped_before_the_write_does_not_stick() -> None:
    """The loop stopped after gossip spawned the pushes and before their turn: on the next
    loop the next orders are timed (before: a flag left set, nothing timed any more)."""
    clock = Turns()
    fw = ForwardTiming(wall_clock=lambda: clock.now, cpu_clock=lambda: clock.now)

    def first() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(loop.stop)  # (next turn: gossip spawns the pushes, then it stops)
        intake(fw, Driver(fw, clock), "a")

    loop = asyncio.new_event_loop()
    try:
        loop.call_soon(first)
        loop.run_forever()
    finally:
        loop.close()
    assert fw._due is not None and fw.to_json()["peer"]["sentWallS"] == 0
    driver = Driver(fw, clock)
    asyncio.run(_run([lambda: intake(fw, driver, "b")], clock, fw))
    assert "b" in driver.written
    out = fw.to_json()["peer"]
    assert out["orders"] == 2 and out["sentWallS"] > 0
