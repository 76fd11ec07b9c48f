"""reads78: a peer that delivered before the sybils came keeps its bound of pending reads of
its own however seldom it delivers (within ``standings.CREDIT_MOST`` points a check), not
only when it delivers at the top rate.

sybil77 ranked the peers for a bound of their own by points of value delivered, a point a
check of accepted orders at most every ``EARN_SECONDS`` (10 s): an honest peer delivering
every 30 s earned a third of what sybils checking every 10 s did, and 16 of them admitted
after it overtook it, so its next slow reads shared the strangers' bound. Now a check is
credited a point for each ``EARN_SECONDS`` since the last one, up to ``CREDIT_MOST``, and the
peers rank by the time their points say they began.

The peer table on a simulated clock (sybil77's ``Clock``), every tick ``EARN_SECONDS``."""

from __future__ import annotations

import pytest

from sdex.gossip.peers import Peers
from sdex.gossip.standings import CREDIT_MOST, Standing, leading
from tests.test_checks75_held_reads import HONEST
from tests.test_sybil77_earned_reads import Clock, sybil

SYBILS, TOP, BAR = 16, 8, 5


@pytest.mark.parametrize("gap", [1, 2, 3, 10, CREDIT_MOST])
@pytest.mark.parametrize("head_start", [1, 5, 60])
def test_a_peer_delivering_seldom_is_not_overtaken_by_sybils_that_came_later(
    gap: int, head_start: int
) -> None:
    """The honest peer checks every ``gap`` ticks from tick 0; 16 sybils, admitted
    ``head_start`` ticks later, every tick (and 10 times a tick): once the honest peer has
    reached the bar it stays among the top 8."""
    clock = Clock()
    peers = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock, per_loopback=64)
    every = peers.earn_seconds
    honest = peers.admit(HONEST, "http://127.0.0.1:2")
    assert honest is not None
    for tick in range(400):
        if tick == head_start:
            for k in range(SYBILS):
                assert peers.admit(sybil(k), f"http://127.0.0.1:{100 + k}") is not None
        if tick % gap == 0:
            peers.reward(HONEST)
        if tick >= head_start:
            for _ in range(10):
                for k in range(SYBILS):
                    peers.reward(sybil(k))
        top = peers.leading(TOP, BAR)
        assert len(top) <= TOP
        if honest.standing.delivered >= BAR:
            assert HONEST in top, (tick, honest.standing, peers.standing(sybil(0)))
        clock.now += every


@pytest.mark.parametrize(
    ("checks", "points", "credited"),
    [
        ([0.0], 1, 0.0),  # (the first: one point)
        ([0.0, 5.0], 1, 0.0),  # (within EARN_SECONDS: none)
        ([0.0, 10.0, 20.0], 3, 20.0),
        ([0.0, 35.0], 4, 30.0),  # (what is left of the last 10 s counts toward the next)
        ([0.0, 35.0, 40.0], 5, 40.0),
        ([0.0, 10.0 * CREDIT_MOST], 1 + CREDIT_MOST, 10.0 * CREDIT_MOST),
        ([0.0, 10.0 * CREDIT_MOST + 995.0], 1 + CREDIT_MOST, 10.0 * CREDIT_MOST + 995.0),
    ],
)
def test_a_check_is_credited_the_points_since_the_last(
    checks: list[float], points: int, credited: float
) -> None:
    s = Standing()
    for at in checks:
        s.earn(at, 10.0)
    assert (s.delivered, s.delivered_at) == (points, credited)


def test_began_earlier_ranks_first() -> None:
    """The one whose points say it began earlier (``delivered_at - delivered * every``):
    more points credited later is not ahead of fewer credited earlier."""
    a, b = Standing(delivered=6, delivered_at=50.0), Standing(delivered=9, delivered_at=100.0)
    assert leading([("a", a), ("b", b)], 1, 5, 10.0) == {"a"}  # (began -10 against 10)
    c = Standing(delivered=9, delivered_at=60.0)
    assert leading([("a", a), ("c", c)], 1, 5, 10.0) == {"c"}  # (-10 against -30)
