"""sybil77: a bound of pending reads of its own is earned over time, and only the peers that
delivered most have one; a swarm of sybils cannot earn it for free, nor outnumber the peers
established before it.

reads77 gave a peer its own bound of pending chain reads once its score reached
``reads_own_score`` (5), new peers sharing the strangers' one. But a point came with every
check of accepted new orders, back to back (review77c): each of 16 admitted sybils pushed 5
checks of orders signed by one funded account the node knew (accepted, no chain read,
nothing spent), each got its own bound, together their slow reads held all 64, and an
established honest peer's check waited for one to end. Now the bound goes by value delivered
over time (``Standing.delivered``: a point a check at most every ``EARN_SECONDS``), to the
``reads_own_peers`` peers that delivered most (of two as high, the one that got there
first: ``Peers.leading``).

A real node on a real Hardhat, its RPC behind checks75's proxy holding every read of the
hostile wallet; the peers' pushes checked through the node's own gossip driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.gossip.peers import Peers
from sdex.gossip.standings import Standing, leading
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_checks75_held_reads import HONEST, done, held_node, honest_taken, known_alice, push
from tests.test_node import ALICE, E6, E18, ask
from tests.test_reads77_sybil_reads import SYBILS, swarm_held, swarm_released

EARN = 1.0
"""The test node's ``earn_seconds`` (10 s in production): the honest peer's points come one
a second, the sybils' back to back."""


def sybil(k: int) -> str:
    return "0x" + f"{0x10 + k:02x}" * 32


async def test_sybils_points_back_to_back_earn_no_bound_of_their_own(
    chain: Chain, tmp_path: Path
) -> None:
    """An honest peer delivers an order a second for 6 s; then 16 sybils each push 5 checks
    of a known account's orders back to back (review77c's probe), then 4 of the hostile
    wallet's orders each (their reads held): the honest peer's orders, one the mirror judges
    and a first-seen account's, are accepted while those reads are held."""
    c = chain
    w = burner(c)
    async with held_node(c, tmp_path / "n.db", w) as (node, api, proxy):
        g = await known_alice(c, node, api)
        g.peers.earn_seconds = EARN
        price = 5000
        for _ in range(g.config.reads_own_score + 1):  # (the honest peer, over time)
            price += 1
            t = push(g, HONEST, c.sign(ask(c, ALICE, E18 // 1000, price * E6)), standing=False)
            await wait_for(done(t), 15)
            assert t.result()["accepted"] == 1, t.result()
            since = g.peers.clock()
            await wait_for(lambda since=since: g.peers.clock() - since > EARN, 5)
        for k in range(SYBILS):  # (each sybil: points back to back, one account's orders)
            for _ in range(g.config.reads_own_score):
                price += 1
                order = c.sign(ask(c, ALICE, E18 // 1000, price * E6))
                t = push(g, sybil(k), order, standing=False)
                await wait_for(done(t), 15)
                assert t.result()["accepted"] == 1, t.result()
        sybils = await swarm_held(c, g, proxy, w, [sybil(k) for k in range(SYBILS)])
        await honest_taken(c, g)
        assert g.peers.leading(g.config.reads_own_peers, g.config.reads_own_score) == {HONEST}
        await swarm_released(g, proxy, sybils)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("head_start", [1, 5, 60])
@pytest.mark.parametrize("checks_a_tick", [1, 10])
def test_patient_sybils_never_outrank_a_peer_that_delivered_before_them(
    head_start: int, checks_a_tick: int
) -> None:
    """An honest peer delivers a check every ``EARN_SECONDS`` from ``head_start`` ticks
    before 16 sybils are admitted; they then deliver ``checks_a_tick`` checks each every
    tick, for an hour: the honest peer stays among the ``k`` that lead, once it reached the
    bar (at 5 points, however many checks the sybils send)."""
    clock = Clock()
    peers = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock, per_loopback=64)
    every = peers.earn_seconds
    assert peers.admit(HONEST, "http://127.0.0.1:2") is not None
    for _ in range(head_start):
        peers.reward(HONEST)
        clock.now += every
    for k in range(SYBILS):
        assert peers.admit(sybil(k), f"http://127.0.0.1:{100 + k}") is not None
    for tick in range(360):
        peers.reward(HONEST)
        for _ in range(checks_a_tick):
            for k in range(SYBILS):
                peers.reward(sybil(k))
        top = peers.leading(8, 5)
        assert len(top) <= 8
        if head_start + tick + 1 >= 5:
            assert HONEST in top, (tick, top)
        clock.now += every


@pytest.mark.parametrize(
    ("standings", "k", "least", "expected"),
    [
        ({}, 8, 5, set()),
        ({"a": (4, 0.0)}, 8, 5, set()),  # (below the bar)
        ({"a": (5, 0.0), "b": (9, 3.0)}, 8, 5, {"a", "b"}),
        ({"a": (5, 0.0), "b": (9, 3.0)}, 1, 5, {"b"}),  # (more delivered first)
        ({"a": (9, 7.0), "b": (9, 3.0), "c": (9, 5.0)}, 2, 5, {"b", "c"}),  # (earlier)
        ({"a": (9, 7.0)}, 0, 5, set()),
    ],
)
def test_leading_ranks_by_value_delivered_then_by_who_got_there_first(
    standings: dict[str, tuple[int, float]], k: int, least: int, expected: set[str]
) -> None:
    given = [(key, Standing(delivered=d, delivered_at=at)) for key, (d, at) in standings.items()]
    assert leading(given, k, least) == expected


def test_a_point_of_value_at_most_every_earn_seconds_and_a_forged_order_costs_it() -> None:
    clock = Clock()
    peers = Peers("0x" + "01" * 32, "http://127.0.0.1:1", clock=clock)
    peer = peers.admit(HONEST, "http://127.0.0.1:2")
    assert peer is not None
    for _ in range(10):
        peers.reward(HONEST)
    assert peer.standing.delivered == 1 and peer.score == 10
    clock.now += peers.earn_seconds
    peers.reward(HONEST)
    assert peer.standing.delivered == 2
    peers.penalize(HONEST)
    assert peer.standing.delivered == 0
