"""A collection inside a push's intake step is left out of the step's CPU time by its own
CPU time, not its wall time (flake94, ``metered._step``).

flake93 read the intake's steps on the loop thread's CPU clock (``Meter(cpu=True)``) but
still took ``GC_PAUSES.seconds``, the collections' wall time, out of them: on a crowded
machine a collection's wall time is mostly waiting for a core (``GcPauses``), so a step
with a collection in it was charged nothing (``max(0, ...)``), the step's own work too.

A real gossip driver on loopback whose intake burns ``DEAR`` of its thread's CPU on a new
order, then runs a collection that waits ``WAIT`` seconds for a core (a ``gc.callbacks``
callback that sleeps as the collection starts: its wall time, not its CPU); the core read
as crowded 1; the budget's clock stands still. An admitted peer pushes one order: it pays
for the ``DEAR`` of work (before: nothing but its push's handling), not for the wait."""

from __future__ import annotations

import gc
import time

import pytest

from sdex.gossip.metered import INTAKE_SHARE
from tests.p2putil import MemoryNode
from tests.pushrace import Crowded, burn, one_pusher

RATE, BURST = 400.0, 100_000
DEAR = 0.02
"""Seconds of the loop thread's CPU the intake's work on the order takes (~27 tokens)."""
WAIT = 0.3
"""Seconds the collection waits for a core (its wall time beyond its CPU: ~400 tokens)."""


class Collecting(MemoryNode):
    """A node whose intake burns ``DEAR`` on a new order, then runs a collection."""

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        burn(DEAR)
        gc.collect()
        return await super().submit_from_peer(obj, peer)


def waiting(phase: str, info: dict[str, int]) -> None:
    """As a collection starts (after ``GC_PAUSES``'s callback noted it): wait ``WAIT``."""
    if phase == "start":
        time.sleep(WAIT)


async def test_a_waiting_collection_leaves_its_steps_work_charged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with one_pusher(Collecting, RATE, BURST, monkeypatch) as one:
        one.member.gossip.peer_costs.crowding = Crowded(1.0)
        gc.callbacks.append(waiting)  # (after ``GC_PAUSES``'s callback, the start's)
        try:
            paid, paused = await one.paid_for_one()
        finally:
            gc.callbacks.remove(waiting)
    assert paused >= WAIT, paused  # (the collection ran, and waited)
    price = RATE / INTAKE_SHARE  # (tokens a second of the loop)
    assert paid >= 0.8 * DEAR * price, (paid, DEAR * price)  # (before: ~1, its push's)
    assert paid < WAIT * price / 2, (paid, WAIT * price)  # (the wait is not the pusher's)
