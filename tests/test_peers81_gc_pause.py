"""A garbage collection's pause inside a push's intake is not charged to its pusher (peers81,
``metered._step``): the collector's pause is the process's (any allocation may set it off,
its length the whole heap's), not the peer's. Before, the intake's metered steps charged it
with no ceiling (flood80: 0.8-2.9 s of collections a window across 8 nodes at 500 orders a
second, 2-8% of the intake's steps, fell on whichever pushers' groups they interrupted; a
request's charge is bounded by ``MOST_SECONDS``, the intake's is not).

A real gossip driver on loopback whose intake runs a full collection (``gc.collect``) over
a heap of ``HEAP`` containers when it takes a new order; an admitted peer pushes one. The
budget's clock stands still: what it paid is its bucket's burst less what is left, against
what the collection's pause (``GC_PAUSES``, ``gc.callbacks``) would cost at the intake's
price. And a step's wall time while the loop's thread did not run (a stalled machine) is
charged at most ``MOST_SECONDS`` (CPU, times ``crowded``) an order
(``test_a_stall_in_the_intake_is_charged_at_most_the_bound_an_order``)."""

from __future__ import annotations

import gc
import time

import pytest

from sdex.gossip.metered import INTAKE_SHARE, MOST_SECONDS, ORDER_UNMEASURED, Crowding
from tests.p2putil import MemoryNode
from tests.pushrace import one_pusher

RATE = 400.0
BURST = 100_000
HEAP = 600_000
"""Containers alive while the collection runs (~30-150 ms of a full one here)."""


class Collecting(MemoryNode):
    """A node whose intake runs a full collection on each new order."""

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        gc.collect()
        return await super().submit_from_peer(obj, peer)


async def test_a_collections_pause_in_the_intake_is_not_its_pushers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    heap = [[i] for i in range(HEAP)]
    try:
        async with one_pusher(Collecting, RATE, BURST, monkeypatch) as one:
            paid, paused = await one.paid_for_one()
    finally:
        del heap
    pause = paused * RATE / INTAKE_SHARE  # (what the pause costs at the intake's price)
    assert paused > 0.01, paused  # (the collection ran, and took a while)
    assert paid < pause / 2, (paid, pause)  # (before: paid > pause)


STALL = 0.6
"""Seconds the loop's thread stands still in the intake of one order (``time.sleep``: as a
machine that gives it no core)."""


class Stalled(MemoryNode):
    async def submit_from_peer(self, obj: object, peer: str) -> str:
        time.sleep(STALL)
        return await super().submit_from_peer(obj, peer)


class Uncrowded(Crowding):
    """``Crowding`` as read over the last second: the loop's thread never waited."""

    def now(self) -> float:
        return 1.0


async def test_a_stall_in_the_intake_is_charged_at_most_the_bound_an_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One order whose intake step took ``STALL`` of wall time (before: charged whole, 800
    tokens of a 2,000 burst for one order; an honest relay whose group a stall hit went into
    debt, and with it out, its fellows had fewer than 3 others to be forgiven by)."""
    async with one_pusher(Stalled, RATE, BURST, monkeypatch) as one:
        one.member.gossip.peer_costs.crowding = Uncrowded("/nonexistent")
        paid, _ = await one.paid_for_one()
    most = (MOST_SECONDS + ORDER_UNMEASURED) * RATE / INTAKE_SHARE  # (the order's intake)
    assert paid < most + 0.1 * RATE / INTAKE_SHARE, (paid, most)  # (+ its push: < 0.1 s)
