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
others' charges and half of the near others' number), and two griefs remained (review86b,
tests/test_review86b_alike_near_floor.py): ids just above ``NEAR``'s floor making up the
lower half of a relay's near others (R - 1 ids each charged 1/11 of a relay undid R relays'
forgiveness, at (R - 1)/11 of one relay's intake), and a flood over 4 ids each more than
``NEAR`` times a relay, forgiven (its near others its own ids). No rule of the charges alone
takes both (alike86, tests/test_alike86_scale.py): verdicts do not change when every charge
is scaled alike, and a flood over 4 ids each 16 times a relay, beside 4 relays, is then
judged as 4 relays beside 4 ids each 1/16 of a relay.

So a pusher's standing is read too (stand89): whether an order it delivered first traded within
``standings.TRADED_SECONDS`` (``Peers.has_traded``: a fill on the chain that paid this node its
fee, ``readbudget.paid_here``, once a block, taken back by a reorg, kept across a restart in
``peer_standings``), as of its last charge. While ``LEAST_TRADED`` other active pushers had it,
the medians are theirs alone and a charge is forgiven only beside ``LEAST_TRADED`` of them near
it: ids without standing neither pull a relay's medians down nor make up a flood's, and an
honest relay none of whose orders traded yet is forgiven while it is alike the relays that have
(a node asking no fee credits no trade: the charges alone judge, as before). An id's standing
costs a fee an hour paid this node on a fill of at least its minimum (a self-trade's one cost
this node can read, peers80), each fee one id's: of a match whose one fill paid, the peer that
delivered the other side's order is credited, the payer's only if none did (review92: both
sides' ids were, two ids' standing for one fee). An id whose order a stranger's paying
order takes is credited from the stranger's fee (peers93: kept, by design): it delivered
first an order that a trader chose to pay this node's fee to take, which is what an honest
relay's standing is for, and no rule of the chain's fills tells the two apart. It costs the
id a funded order of at least this node's minimum that a real trader takes at its price (it
cannot make one take it; priced to be taken, it is liquidity served, and it displaces the
relays' orders that trade would have credited), so such standings are bounded by the paying
trades this node settles an hour, one id each. The first grief then takes R - 1 fees an
hour, and a 4-id flood beside relays with standing 2 of them (forgiving its other 2) or 3
(all 4) (``test_a_trade_buys_a_flood_little``). Beside fewer than ``LEAST_TRADED`` relays with
standing, a flood over 4 ids or more gains by forgiveness only what its charges run above the
loop's wall time (4 ids' budgets buy more than the whole of it, review84; alike86's bench at
load 20-37: docs/BENCHMARKS.md). Their pushes' own handling is still paid
(``metered.push_tokens``), and so is every other request."""

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
LEAST_TRADED = 2
"""Other active pushers with standing (``forgive``'s ``traded``) past which only theirs make
the medians, and near ones (``NEAR``) a charge's forgiveness then takes (stand89)."""
MOST_PUSHERS = 1024
"""Pushers kept at once (past it, those not charged within ``ACTIVE`` are dropped)."""


class Pushers:
    """Each admitted pusher's intake charges, decayed (``forgive``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._sums: dict[str, tuple[float, float, bool]] = {}
        """Pusher -> (its decayed sum of charges, when last charged, whether it had standing
        then: ``forgive``'s ``traded``)."""
        self._held: set[str] = set()
        """The pushers in ``_sums`` that had standing at their last charge (stand91: the
        standing medians are read only when ``LEAST_TRADED`` others may be among them, so a
        node none of whose pushers has standing does per charge what it did before stand89)."""
        self.forgiven = 0.0
        """Tokens forgiven in all (``/health`` ``peerRequests.intake.forgiven``)."""

    def forgive(self, pusher: str, tokens: float, traded: bool = False) -> bool:
        """``pusher`` is charged ``tokens`` for its push's intake: whether the charge is
        forgiven (its sum, with it, at most ``ALIKE`` times the weighted median of the other
        pushers' charged within ``ACTIVE`` seconds, ``LEAST_OTHERS`` of them at least its
        sum over ``NEAR``). ``traded``: it has standing now (an order it delivered first
        traded lately: ``Peers.has_traded``); while ``LEAST_TRADED`` others that had it at
        their last charge are active, the medians are theirs alone (stand89)."""
        now = self.clock()
        mine = self._decayed(pusher, now) + max(0.0, tokens)
        self._sums[pusher] = (mine, now, traded)
        held = self._held
        if traded:
            held.add(pusher)
        else:
            held.discard(pusher)
        if len(held) - traded < LEAST_TRADED:  # (stand91: no other's standing to read)
            others = sorted(
                s * _fall(now - at)
                for p, (s, at, _held) in self._sums.items()
                if p != pusher and now - at <= ACTIVE
            )
            standing: list[float] = []
        else:
            active = [
                (s * _fall(now - at), had)
                for p, (s, at, had) in self._sums.items()
                if p != pusher and now - at <= ACTIVE
            ]
            others = sorted(s for s, _had in active)
            standing = sorted(s for s, had in active if had)
        if len(self._sums) > MOST_PUSHERS:
            self._sums = {p: v for p, v in self._sums.items() if now - v[1] <= ACTIVE}
            held.intersection_update(self._sums.keys())
        near = others[bisect.bisect_left(others, mine / NEAR) :]
        if len(near) < LEAST_OTHERS:
            return False
        if len(standing) >= LEAST_TRADED:  # (stand89: the others that paid for a trade)
            others, near = standing, standing[bisect.bisect_left(standing, mine / NEAR) :]
            if len(near) < LEAST_TRADED:
                return False  # (review86b: a flood's near others its own ids)
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
