"""``sdex.node.replayhold.ReplayHold``'s bounds (replay79): orders wait for the mirror to
follow the chain, at most so many in all and per wallet client, each for at most so long;
past a bound an order is not held (read at once, as before); a chain that stops being
followed ends every wait. Real asyncio, no mocks of it; the mirror's readiness a flag."""

from __future__ import annotations

import asyncio

import pytest

from sdex.node.replayhold import ReplayHold
from tests.nodeutil import wait_for


class Flags:
    def __init__(self) -> None:
        self.ready = False
        self.following = True

    def hold(self, most: int = 100, per_sender: int = 10, seconds: float = 60.0) -> ReplayHold:
        return ReplayHold(lambda: self.ready, lambda: self.following, most, per_sender, seconds)


async def test_held_orders_wait_for_the_mirror_and_end_together() -> None:
    f = Flags()
    h = f.hold()
    waits = [asyncio.ensure_future(h.hold(f"10.0.0.{i % 3}")(i)) for i in range(9)]
    await wait_for(lambda: h.now == 9)
    assert not any(w.done() for w in waits)
    f.ready = True
    async with asyncio.timeout(10):
        await asyncio.gather(*waits)
    assert (h.now, h.held, h.timed_out, h.past_bound, h.by_sender) == (0, 9, 0, 0, {})
    await h.hold("10.0.0.1")(0)  # (the mirror follows: no wait at all)
    assert h.held == 9


@pytest.mark.parametrize(
    ("most", "per_sender", "clients", "held", "past"),
    [
        (100, 3, ["a"] * 5, 3, 2),  # one client past its bound
        (100, 3, ["a"] * 3 + ["b"] * 3, 6, 0),  # two clients, each within
        (4, 3, ["a"] * 3 + ["b"] * 3, 4, 2),  # the bound of all
        (0, 3, ["a"], 0, 1),  # none held
    ],
)
async def test_past_a_bound_an_order_is_not_held(
    most: int, per_sender: int, clients: list[str], held: int, past: int
) -> None:
    f = Flags()
    h = f.hold(most, per_sender)
    waits = [asyncio.ensure_future(h.hold(f"10.0.0.{ord(c)}")(0)) for c in clients]
    await wait_for(lambda: h.now + h.past_bound == len(clients))
    assert (h.now, h.past_bound) == (held, past)
    assert sum(w.done() for w in waits) == past  # (not held: answered at once, read)
    f.ready = True
    async with asyncio.timeout(10):
        await asyncio.gather(*waits)


async def test_a_wait_ends_at_its_bound_and_when_the_chain_is_not_followed() -> None:
    f = Flags()
    h = f.hold(seconds=0.2)
    async with asyncio.timeout(10):
        await h.hold("10.0.0.1")(0)
    assert (h.held, h.timed_out) == (1, 1)
    assert h.longest >= 0.2
    h.seconds = 60.0
    waits = [asyncio.ensure_future(h.hold("10.0.0.1")(i)) for i in range(3)]
    await wait_for(lambda: h.now == 3)
    f.following = False  # (unreachable, behind: answered as the status says)
    async with asyncio.timeout(10):
        await asyncio.gather(*waits)
    assert (h.now, h.timed_out) == (0, 1)
    await h.hold("10.0.0.1")(0)  # (not followed: not held)
    assert h.held == 4


async def test_a_cancelled_wait_gives_its_place_back() -> None:
    f = Flags()
    h = f.hold(per_sender=1)
    first = asyncio.ensure_future(h.hold("10.0.0.1")(0))
    await wait_for(lambda: h.now == 1)
    first.cancel()  # (the wallet went away, or the node stops)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (h.now, h.by_sender) == (0, {})
    second = asyncio.ensure_future(h.hold("10.0.0.1")(0))
    await wait_for(lambda: h.now == 1)
    f.ready = True
    async with asyncio.timeout(10):
        await second
    assert h.past_bound == 0
