"""The cyclic garbage collector on a node that holds many orders (issue 11's latency tails).

CPython's full (generation-2) collection walks every tracked object: on a node holding
100,000 orders (records, book entries, cached texts: ~6 tracked objects an order) one takes
0.2-1.1 s, and the event loop waits throughout. Most of those objects live as long as their
order, and most die by reference counting, not as cycles: the collector walks them for
nothing. So, as ``gc.freeze`` is meant to be used:

- **settle**, once the stored orders are loaded: collect the young generations, then
  freeze what is left (it leaves the generations: no later collection walks it; no full
  pause either: a start-up cycle already dead is frozen with the rest, and counted by the
  bound below), then collect the (now empty) generations once more, so that the
  collector's 25% rule (a full collection once the objects promoted since the last one
  exceed a quarter of what it kept) counts from what is left, not from the start-up heap;
- **refreeze**: a full collection that took more than ``budget`` seconds of CPU means that
  what came since has grown large: the young generations are collected and what is alive
  is frozen too. A full collection's pause stays about ``budget``, however many orders;
- **thaw**, the bound on memory: a frozen object that dies by reference counting is freed
  as usual, but one that dies in a reference cycle is never freed while frozen. Once the
  frozen objects (alive, or such cycles) number ``growth`` times what the last thaw (or the
  start) left frozen, everything is unfrozen, collected once (one full pause, as CPython's
  own rule gives after every 25% of growth: here after every doubling) and frozen again.
  Cycles kept frozen are therefore at most the live heap of the last thaw.

- **young collections less often**: while a node serves, the generation-0 threshold is
  ``YOUNG_THRESHOLD`` (CPython's default: 700). A young collection walks everything young:
  the 48 requests in flight (their coroutines, requests, header dicts: ~2,700 objects) as
  much as what came since the last one, so at 700 it ran 15-20 times a 1,000 orders of
  HTTP intake and walked the same in-flight objects each time (http23: 0.3-0.7 ms each,
  17-30 us an order; at 5,000: one a 1,000 orders, 1.6-5 us an order; the node's CPU an
  order 0.89x, median of 29 alternated pairs, lower in 23). The last node to stop puts the
  process's threshold back.

One policy a process (the collector is the process's): each node settles it as it starts;
each one that stops unfreezes everything (its objects that die in cycles are freed; the
others refreeze after their next long full collection). ``$SDEX_GC_FREEZE=0`` turns it off
(``gc_freeze``), for comparisons (bench/gc_pauses.py) or should it ever misbehave.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os

from sdex.gossip.timing import GC_PAUSES, GcPauses

log = logging.getLogger("sdex.node")

GC_FREEZE_ENV = "SDEX_GC_FREEZE"
"""``0`` turns the policy off for every node of the process; ``1`` (or unset) leaves it to
``NodeConfig.gc_freeze``."""

YOUNG_THRESHOLD = 5000
"""Generation-0 threshold while a node serves (net container allocations between young
collections). Each young collection is longer (1.6-5 ms of CPU at HTTP intake, against
0.3-0.7 ms at 700: the requests in flight dominate either way) and 15-20x rarer; 2,000 cost
as much CPU as 5,000 for little shorter pauses (1.2-2 ms; http23)."""

CHECK_EVERY = 1.0
"""Seconds between the policy's looks at the collector (a look reads two counters)."""


def gc_freeze(configured: bool) -> bool:
    """Whether a node freezes: ``configured`` unless ``$SDEX_GC_FREEZE`` is ``0`` (``1`` or
    unset: as configured; anything else: ``ValueError``, which says so)."""
    raw = os.environ.get(GC_FREEZE_ENV, "").strip()
    if raw not in ("", "0", "1"):
        raise ValueError(f"${GC_FREEZE_ENV} must be 0 (off) or 1 (as configured), not {raw!r}")
    return configured and raw != "0"


class GcFreezer:
    """The policy above, for this process's collector (``GC_PAUSES`` must be installed:
    it times the full collections)."""

    active = 0
    """Nodes of this process using the policy now."""
    _thresholds: tuple[int, int, int] | None = None
    """The process's collector thresholds before the first node settled (put back by the
    last to close)."""

    def __init__(self, budget: float, growth: float = 2.0, pauses: GcPauses = GC_PAUSES) -> None:
        if not budget > 0 or not growth > 1:  # (also NaN)
            raise ValueError(f"budget {budget!r} must be above 0 s, growth {growth!r} above 1")
        self.budget, self.growth, self.pauses = budget, growth, pauses
        self.baseline = 0
        """Objects frozen after the last thaw (or the start)."""
        self._seen_full = 0

    def settle(self) -> None:
        """After start-up: what is alive leaves the collector's generations."""
        self.pauses.install()
        if GcFreezer.active == 0:
            GcFreezer._thresholds = gc.get_threshold()
            gc.set_threshold(YOUNG_THRESHOLD, *GcFreezer._thresholds[1:])
        GcFreezer.active += 1
        gc.collect(1)  # (the young generations' garbage is not frozen; no full pause)
        gc.freeze()
        gc.collect()  # (walks nothing now: restarts the 25% rule from what is left)
        self.baseline = self.pauses.note_frozen()
        self._seen_full = self.pauses.by_generation[2]
        self.pauses.freezes += 1
        log.info("garbage collector: %d objects frozen after start-up", self.baseline)

    def step(self) -> None:
        """Refreeze after a long full collection; thaw once the frozen set has grown
        ``growth`` times (see the module)."""
        full = self.pauses.by_generation[2]
        if full == self._seen_full:
            return
        self._seen_full = full
        if self.pauses.last_full <= self.budget:
            return
        gc.collect(1)  # (the young generations' garbage is not frozen with the rest)
        gc.freeze()
        self.pauses.freezes += 1
        # (the frozen set grows only here; counting it walks it: ~1 ms per 100,000 objects)
        if self.pauses.note_frozen() > self.growth * self.baseline:
            self.thaw()

    def thaw(self) -> None:
        """Unfreeze, collect everything once (the cycles that died frozen), freeze again."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        gc.collect()
        self.baseline = self.pauses.note_frozen()
        self._seen_full = self.pauses.by_generation[2]
        self.pauses.thaws += 1

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECK_EVERY)
            try:
                self.step()
            except Exception:  # (never: but the policy must not stop a node)
                log.exception("garbage collector policy failed")

    def close(self) -> None:
        """This node stops: everything is unfrozen, so that what of it dies in cycles is
        freed (review18: only the last node out unfroze, and another still serving kept a
        stopped one's dead cycles frozen, 90 MB for 300,000 objects; its ``baseline``
        counted them, so no thaw came). A node still serving refreezes after the next full
        collection (over its budget: it walks everything once, as a thaw does)."""
        GcFreezer.active -= 1
        gc.unfreeze()
        self.pauses.note_frozen()
        if GcFreezer.active == 0 and GcFreezer._thresholds is not None:
            gc.set_threshold(*GcFreezer._thresholds)
            GcFreezer._thresholds = None
