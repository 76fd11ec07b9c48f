"""Pushers alike (peers81): a push's intake is forgiven its charge while its pusher's recent
charges are within ``ALIKE`` times the median of at least ``LEAST_OTHERS`` other pushers'.

The intake is priced at the loop's wall time (``metered.intake_tokens``): at saturation (a
loop thread that runs 1/6-1/20 of the time it is runnable) an order's intake costs its
pusher ~15-40 tokens, and a relay that first-delivers more than ~100 new orders a second to
one node for a few seconds is in debt like a flooder (flood80: honest relays refused at 300
and 500 orders a second across 8 nodes, their orders rejected unchecked). No price tells
the two apart by what one of them takes, as both take more than ``INTAKE_SHARE`` of a
saturated loop; what does is the others: a saturated node's honest relays are near-equal
(each first-delivers its share of the network's orders), a flooder is far above them.

So each admitted pusher's intake charges are summed, decayed by half every
``HALF_LIFE`` seconds (``Pushers``); a charge whose pusher's sum, with it, is at most
``ALIKE`` times the median of the others' (the lower one: colluding ids must be more than
half of a node's pushers to set it) is forgiven: not taken from its request budget, so an
honest relay never goes into debt for its share of a saturated loop. A flooder is an
outlier and pays as before; a lone pusher, or one with fewer than ``LEAST_OTHERS`` others
pushing within ``ACTIVE`` seconds, pays as before (gossip78's and flood79's bounds). Its
cost: k ids pushing equal amounts, a majority of a node's active pushers, are never
charged for their intake (the per-id budget lets 4 ids take the loop already); their pushes'
own handling is still paid (``metered.push_tokens``), and so is every other request."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

HALF_LIFE = 2.0
"""Seconds over which a pusher's summed intake charges fall by half."""
ACTIVE = 4.0
"""A pusher charged within this many seconds counts among the others."""
ALIKE = 3.0
"""How far above the others' median a pusher's sum may be and be forgiven."""
LEAST_OTHERS = 3
"""Other active pushers a median takes (fewer: nothing is forgiven)."""
MOST_PUSHERS = 1024
"""Pushers kept at once (past it, those not charged within ``ACTIVE`` are dropped)."""


class Pushers:
    """Each admitted pusher's intake charges, decayed (``forgive``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sums: dict[str, tuple[float, float]] = {}
        """Pusher -> (its decayed sum of charges, when last charged)."""
        self.forgiven = 0.0
        """Tokens forgiven in all (``/health`` ``peerRequests.intake.forgiven``)."""

    def forgive(self, pusher: str, tokens: float) -> bool:
        """``pusher`` is charged ``tokens`` for its push's intake: whether the charge is
        forgiven (its sum, with it, at most ``ALIKE`` times the lower median of at least
        ``LEAST_OTHERS`` other pushers' charged within ``ACTIVE`` seconds)."""
        now = self.clock()
        mine = self._decayed(pusher, now) + max(0.0, tokens)
        self._sums[pusher] = (mine, now)
        others = sorted(
            s * _fall(now - at)
            for p, (s, at) in self._sums.items()
            if p != pusher and now - at <= ACTIVE
        )
        if len(self._sums) > MOST_PUSHERS:
            self._sums = {p: v for p, v in self._sums.items() if now - v[1] <= ACTIVE}
        if len(others) < LEAST_OTHERS or mine > ALIKE * others[(len(others) - 1) // 2]:
            return False
        self.forgiven += tokens
        return True

    def _decayed(self, pusher: str, now: float) -> float:
        held = self._sums.get(pusher)
        return 0.0 if held is None else held[0] * _fall(now - held[1])


def _fall(seconds: float) -> float:
    return math.exp2(-max(0.0, seconds) / HALF_LIFE)
