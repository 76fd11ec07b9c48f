"""An id's introductions are a refilling budget (peer30): ``MAX_INTRODUCED`` at once, then one
every ``INTRODUCE_SECONDS``. It was a lifetime count: an honest peer stopped introducing
others after 16 (the full table's turnover to honest peers then starved), while an attacker's
introductions are still bounded per unit time. Sans-I/O: the table's clock is injected."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.actions import GossipConfig
from sdex.gossip.core import GossipCore
from sdex.gossip.peers import INTRODUCE_SECONDS, MAX_CANDIDATES, MAX_INTRODUCED, Peers
from tests.p2putil import Book
from tests.test_peer28_table import Clock, key


def urls(start: int, n: int) -> list[str]:
    return [f"http://10.{(i >> 8) & 255}.{i & 255}.1:9000" for i in range(start, start + n)]


def test_introductions_refill_over_time() -> None:
    clock = Clock()
    peers = Peers(key(0), "http://me.test:1", clock=clock, rng=random.Random(1))
    first = urls(0, MAX_INTRODUCED + 1)
    taken = [peers.introduce(u, key(1)) for u in first]
    assert taken == [True] * MAX_INTRODUCED + [False]
    peers.take_candidates(MAX_CANDIDATES)  # (dialled)
    clock.t += INTRODUCE_SECONDS
    assert peers.introduce(first[-1], key(1))  # one more, a refill's worth
    assert not peers.introduce(urls(100, 1)[0], key(1))
    peers.take_candidates(MAX_CANDIDATES)
    clock.t += 100 * INTRODUCE_SECONDS  # refills up to the burst, not past it
    later = [peers.introduce(u, key(1)) for u in urls(200, MAX_INTRODUCED + 1)]
    assert later == [True] * MAX_INTRODUCED + [False]
    assert peers.standing(key(1)).introduced == 2 * MAX_INTRODUCED + 1


def test_a_refused_introduction_spends_nothing() -> None:
    """A URL already known, a candidate, ours or implausible costs no token."""
    clock = Clock()
    peers = Peers(key(0), "http://me.test:1", clock=clock, rng=random.Random(1))
    (u,) = urls(0, 1)
    assert peers.introduce(u, key(1))
    for again in [u, u + "/", "http://me.test:1", "ftp://x", 7]:
        assert not peers.introduce(again, key(1))
    assert sum(peers.introduce(v, key(1)) for v in urls(1, 99)) == MAX_INTRODUCED - 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 120), st.integers(1, 40)), max_size=40))
def test_introductions_are_bounded_per_unit_time(steps: list[tuple[float, int]]) -> None:
    """Whatever it sends when: an id introduces at most the burst plus one per
    ``INTRODUCE_SECONDS`` elapsed."""
    clock = Clock()
    peers = Peers(key(0), "http://me.test:1", clock=clock, rng=random.Random(1))
    start, n, taken = clock.t, 0, 0
    for wait, many in steps:
        clock.t += wait
        for u in urls(n, many):
            taken += peers.introduce(u, key(1))
        n += many
        peers.candidates.clear()  # (the candidate list's own bound is not what is tested)
        assert taken <= MAX_INTRODUCED + (clock.t - start) / INTRODUCE_SECONDS


def test_an_honest_peer_keeps_introducing_through_its_hellos() -> None:
    """A peer's hellos (each sharing new URLs) keep bringing candidates past the first 16,
    at the refill's pace: a full table keeps meeting honest newcomers to replace useless
    peers with."""
    clock = Clock()
    core = GossipCore(key(0), "http://me.test:1", [], Book(), GossipConfig(), clock=clock)
    core.peers.admit(key(1), "http://192.0.2.1:9000")
    core.hello(key(1), "http://192.0.2.1:9000", {"peers": urls(0, 40)})
    assert len(core.peers.candidates) == MAX_INTRODUCED
    core.peers.candidates.clear()  # (dialled)
    clock.t += 4 * INTRODUCE_SECONDS
    core.hello(key(1), "http://192.0.2.1:9000", {"peers": urls(40, 40)})
    assert list(core.peers.candidates) == urls(40, 4)


def test_an_id_holds_at_most_a_burst_of_candidates_waiting() -> None:
    """A refilling budget must not let one id's candidates pile up while none are dialled
    (a full table of healthy peers dials none): at most ``MAX_INTRODUCED`` of an id's wait,
    so the candidate list (``MAX_CANDIDATES``) keeps room for other introducers."""
    clock = Clock()
    peers = Peers(key(0), "http://me.test:1", clock=clock, rng=random.Random(1))
    assert sum(peers.introduce(u, key(1)) for u in urls(0, 40)) == MAX_INTRODUCED
    clock.t += 100 * INTRODUCE_SECONDS
    assert sum(peers.introduce(u, key(1)) for u in urls(40, 40)) == 0
    assert peers.introduce(urls(80, 1)[0], key(2))  # another id's still go in
    dialled = peers.take_candidates(4)
    assert len(dialled) == 4
    assert sum(peers.introduce(u, key(1)) for u in urls(100, 40)) == 4
