"""sybil78: a peer that reached the cap of delivered value (``standings.MAX_DELIVERED``) and
keeps delivering does not lose its place to sybils that reached it later for one penalty.

At the cap a check earned nothing and was not remembered, so ``delivered_at`` stayed where
the cap was reached; a penalty took 5 points, and the next check counted the whole time
since the cap as idle: credited ``CREDIT_MOST`` points at most, through now, its points now
said it began an hour before now, behind every sybil that reached the cap meanwhile, for as
long as they kept delivering. Now a check at the cap is remembered (``active_at``), and
one penalty costs what its 5 points are worth: 50 s of seniority.

The peer table on a simulated clock (sybil77's ``Clock``), every tick ``EARN_SECONDS``."""

from __future__ import annotations

import pytest

from sdex.gossip.peers import INVALID_PENALTY, Peers
from sdex.gossip.standings import MAX_DELIVERED
from tests.test_checks75_held_reads import HONEST
from tests.test_sybil77_earned_reads import Clock, sybil

SYBILS, TOP, BAR = 16, 8, 5


@pytest.mark.parametrize("gap", [1, 3])
@pytest.mark.parametrize("head_start", [2 * INVALID_PENALTY + 1, 60, 200])
@pytest.mark.parametrize("penalties", [1, 2])
def test_a_capped_peer_penalized_keeps_its_place_against_later_sybils(
    gap: int, head_start: int, penalties: int
) -> None:
    """The honest peer checks every ``gap`` ticks from tick 0; 16 sybils, admitted
    ``head_start`` ticks later (more than the penalties' points), every tick; once all are
    at the cap the honest peer is penalized ``penalties`` times, one tick apart, and keeps
    delivering: it stays among the top 8 at every tick after."""
    clock = Clock()
    peers = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock, per_loopback=64)
    honest = peers.admit(HONEST, "http://127.0.0.1:2")
    assert honest is not None
    penalized_at = head_start + MAX_DELIVERED + 20
    for tick in range(penalized_at + 200):
        if tick == head_start:
            for k in range(SYBILS):
                assert peers.admit(sybil(k), f"http://127.0.0.1:{100 + k}") is not None
        if penalized_at <= tick < penalized_at + penalties:
            assert peers.standing(sybil(0)).delivered == MAX_DELIVERED
            peers.penalize(HONEST)
        if tick % gap == 0:
            peers.reward(HONEST)
        if tick >= head_start:
            for k in range(SYBILS):
                peers.reward(sybil(k))
        top = peers.leading(TOP, BAR)
        if tick >= penalized_at + penalties + gap:
            assert HONEST in top, (tick, honest.standing, peers.standing(sybil(0)))
        clock.now += peers.earn_seconds
