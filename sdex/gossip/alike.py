"""Pushers alike (peers81): a push's intake is forgiven its charge while its pusher's recent
charges are within ``ALIKE`` times the other pushers' medians: the one weighted by their
charges and the one by count of those near it (``NEAR``), whichever is lower.

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
``ALIKE`` times the others' median is forgiven: not taken from its request budget, so an
honest relay never goes into debt for its share of a saturated loop. A flooder is an
outlier and pays as before; a lone pusher, or one with fewer than ``LEAST_OTHERS`` others
pushing within ``ACTIVE`` seconds whose sums are at least its own over ``NEAR``, pays as
before (gossip78's and flood79's bounds).

The median is the others' sums' weighted by themselves (the lower one: the least sum at
which the others' summed up to it are half of all theirs): each id counts by the intake it
was charged, not as one (review82b: by count, 3 admitted ids pushing near-free copies every
few seconds were half of a node's others for 4 honest relays, the lower median theirs, and
none of the relays' 160 charges was forgiven). Ids are free to make; intake is not. To pull
an honest relay's median below a third of its sum, ids below that must have been charged
half of all the others' intake: as much as the other honest relays together, over 3 times as
many ids at least; and the relays then pay as before peers81, no more. Its cost: ids
colluding to be forgiven need half of the others' charges, not half of their number (k ids
pushing equal amounts, that much of a node's intake, are never charged for theirs; the
per-id budget lets 4 ids take the loop already); a flooder among unequal honest relays is
held to ``ALIKE`` times the one at which half of their charges are reached, not the lower
middle one (a larger bound: bench/gossip.py's flooder got 1.24 times the orders accepted,
in debt less often, peers83); to forgive a flooder among few others,
``LEAST_OTHERS`` of them must have been charged at least its sum over ``NEAR`` (ids charged
next to nothing do not make up the count).

The weight alone is the flooder's to set: a flood split over two ids carried its own weight
(beside 4 honest relays, ids charged 12 and 5 times a relay's sum each held most of the
other's weighted median, both forgiven: review84). So a charge must also be within ``ALIKE``
times the count median of the others near it (charged at least its sum over ``NEAR``): a
split flood needs as many ids as the honest relays near it, each charged near its own share,
as before peers83. With both, the colluders' cost is the larger of the two (half of the
others' charges and half of the near others' number), and two griefs remain (review86b,
tests/test_review86b_alike_near_floor.py, strict xfail): ids just above ``NEAR``'s floor
making up the lower half of a relay's near others (R - 1 ids each charged 1/11 of a relay
undo R relays' forgiveness, at (R - 1)/11 of one relay's intake), and a flood over 4 ids
each more than ``NEAR`` times a relay, forgiven (its near others are its own ids).

No rule of the charges alone takes both (alike86, tests/test_alike86_scale.py): verdicts do
not change when every charge is scaled alike, and a flood over 4 ids each 16 times a relay,
beside 4 relays, is then judged as 4 relays beside 4 ids each 1/16 of a relay (each flood id
sees what each relay sees); a rule charging that flood charges those relays, the first grief
with one more id. What tells the two apart is how much of the loop a charge is: the loop is
one second a second and a pusher's full budget buys ``metered.INTAKE_SHARE`` (0.3) of it, so
a pusher is in debt for its intake only above that share (at most 3 at once, by the loop's
wall time), and 4 ids' budgets buy more than the whole of it (review84): a flood over 4 ids
or more gains by forgiveness only what its charges run above the loop's wall time (the
unmeasured CPU, charged times ``crowded``; on alike86's bench at load 20-37 a flood over 4
ids was in debt now and then, and got 0.75 times the orders in with this rule as with the
weighted median alone). The first grief costs the relays above their budget's share,
the only ones forgiveness helps, their forgiveness (back to that share, as before peers81),
at (R - 1)/12 of such a relay's loop time. Kept so (alike86's bench: docs/BENCHMARKS.md).
Their pushes' own handling is still paid (``metered.push_tokens``), and so is every other
request."""

from __future__ import annotations

import bisect
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
"""Other active pushers, each near (``NEAR``), a charge's forgiveness takes (fewer: none)."""
NEAR = 12.0
"""How far below a pusher's sum another's may be and count among the ``LEAST_OTHERS``
(honest relays of a saturated node differ 3-10 times, peers81)."""
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
        forgiven (its sum, with it, at most ``ALIKE`` times the weighted median of the other
        pushers' charged within ``ACTIVE`` seconds, ``LEAST_OTHERS`` of them at least its
        sum over ``NEAR``)."""
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
        near = others[bisect.bisect_left(others, mine / NEAR) :]
        if len(near) < LEAST_OTHERS:
            return False
        if mine > ALIKE * min(weighted_median(others), near[(len(near) - 1) // 2]):
            return False  # (review84: by weight alone a flood split over 2 ids was alike)
        self.forgiven += tokens
        return True

    def _decayed(self, pusher: str, now: float) -> float:
        held = self._sums.get(pusher)
        return 0.0 if held is None else held[0] * _fall(now - held[1])


def _fall(seconds: float) -> float:
    return math.exp2(-max(0.0, seconds) / HALF_LIFE)


def weighted_median(sums: list[float]) -> float:
    """The least of ``sums`` (sorted) at which those up to it add up to half of them all
    (0 if none or all 0): ids charged next to nothing weigh next to nothing."""
    half, run = sum(sums) / 2, 0.0
    for s in sums:
        run += s
        if run >= half and run > 0.0:
            return s
    return 0.0
