"""The peer table against an eclipse (attack28): one host cannot take every slot, and a
proven newcomer can replace a useless peer when the table is full (libp2p's connection
manager: a grace period, protected peers, the lowest value trimmed first)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.actions import Call, GossipConfig
from sdex.gossip.core import GossipCore
from sdex.gossip.peers import (
    GRACE_SECONDS,
    MAX_PEERS,
    MAX_PER_HOST,
    REPLACE_SECONDS,
    Peers,
    host_group,
)
from tests.p2putil import Book


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def key(i: int) -> str:
    return f"0x{i:040x}"


def table(**kw: Any) -> tuple[Peers, Clock]:
    clock = Clock()
    return Peers(key(0), "http://me.test:1", clock=clock, rng=random.Random(1), **kw), clock


def test_one_host_takes_a_bounded_share_of_the_table() -> None:
    """64 keys answering on 64 ports of one address (or its /24): 8 admitted, and the other
    slots stay free for peers elsewhere."""
    peers, _ = table()
    admitted = [
        peers.admit(key(i), f"http://203.0.113.{i % 4 + 1}:{9000 + i}") is not None
        for i in range(1, 65)
    ]
    assert sum(admitted) == 8
    assert peers.admit(key(100), "http://198.51.100.7:9000") is not None


def test_a_full_table_of_useless_peers_takes_a_proven_newcomer() -> None:
    """A table filled by peers that never brought a valid order (past their grace period)
    lets a newcomer replace one; seeds and peers that brought valid orders stay."""
    peers, clock = table()
    peers.add_seed("http://192.0.2.1:9000")
    assert peers.admit(key(1), "http://192.0.2.1:9000") is not None  # the operator's seed
    for i in range(2, MAX_PEERS + 1):
        assert peers.admit(key(i), f"http://10.{i}.0.1:9000") is not None
    for i in range(2, 10):
        peers.reward(key(i))  # useful: they brought valid new orders
    assert len(peers) == MAX_PEERS
    clock.t += 3600
    assert peers.admit(key(500), "http://172.16.0.1:9000") is not None
    assert len(peers) == MAX_PEERS
    assert all(peers.get(key(i)) is not None for i in range(1, 10))


@pytest.mark.parametrize(
    ("url", "group"),
    [
        ("http://203.0.113.9:1", "203.0.113.0/24"),
        ("https://203.0.113.250:443/x", "203.0.113.0/24"),
        ("http://[2001:db8:1:2:3::9]:80", "2001:db8::/32"),  # (peer30: a /32)
        ("http://[::ffff:203.0.113.7]:80", "203.0.113.0/24"),  # IPv4-mapped: as IPv4
        ("http://127.0.0.1:9000", "loopback"),
        ("http://127.8.9.1:9000", "loopback"),
        ("http://[::1]:9000", "loopback"),
        ("http://LOCALHOST:9000", "loopback"),
        ("http://a.node.example.org:1", "example.org"),  # wildcard names: one group
        ("http://b.node.Example.ORG.:1", "example.org"),
        ("http://n3.sim", "n3.sim"),
    ],
)
def test_host_groups(url: str, group: str) -> None:
    assert host_group(url) == group


def test_loopback_has_its_own_bound() -> None:
    """A devnet runs every node on 127.0.0.1: by default loopback may fill the table."""
    peers, _ = table()
    assert all(peers.admit(key(i), f"http://127.0.0.1:{9000 + i}") for i in range(1, 65))
    tight, _ = table(per_loopback=2)
    admitted = [tight.admit(key(i), f"http://127.0.0.1:{9000 + i}") for i in range(1, 5)]
    assert [p is not None for p in admitted] == [True, True, False, False]


def test_replacement_waits_for_grace_and_is_rate_bounded() -> None:
    peers, clock = table()
    for i in range(1, MAX_PEERS + 1):
        assert peers.admit(key(i), f"http://10.{i}.0.1:9000") is not None
    assert peers.room() == 0
    assert peers.admit(key(500), "http://172.16.0.1:9000") is None  # all within grace
    clock.t += GRACE_SECONDS
    assert peers.room() == 1
    assert peers.admit(key(501), "http://172.16.1.1:9000") is not None
    assert peers.room() == 0
    assert peers.admit(key(502), "http://172.16.2.1:9000") is None  # one per REPLACE_SECONDS
    clock.t += REPLACE_SECONDS
    assert peers.admit(key(502), "http://172.16.2.1:9000") is not None
    assert len(peers) == MAX_PEERS


def test_replacement_takes_from_the_most_crowded_host() -> None:
    """Among useless peers, one of the host group holding the most goes first."""
    dropped: list[str] = []
    peers, clock = table(on_drop=dropped.append)
    for i in range(1, MAX_PEERS + 1):
        host = f"198.51.100.{i}" if i <= 8 else f"10.{i}.0.1"
        assert peers.admit(key(i), f"http://{host}:9000") is not None
    clock.t += GRACE_SECONDS
    assert peers.admit(key(500), "http://172.16.0.1:9000") is not None
    assert len(dropped) == 1 and int(dropped[0], 16) <= 8


def test_a_peer_cannot_move_into_a_full_host() -> None:
    peers, _ = table(per_host=2)
    for i in (1, 2):
        assert peers.admit(key(i), f"http://203.0.113.{i}:1") is not None
    assert peers.admit(key(3), "http://198.51.100.1:1") is not None
    assert peers.admit(key(3), "http://203.0.113.3:1") is None  # (its host is full)
    peer = peers.get(key(3))
    assert peer is not None and peer.url == "http://198.51.100.1:1"


def test_the_core_dials_when_a_replacement_is_due() -> None:
    """A core whose table is full of useless peers dials one candidate per round once their
    grace is over (before: a full table dialled nobody, so it never changed)."""
    clock = Clock()
    core = GossipCore(key(0), "http://me.test:1", [], Book(), GossipConfig(), clock=clock)
    for i in range(1, MAX_PEERS + 1):
        core.peers.admit(key(i), f"http://10.{i}.0.1:9000")
    core.peers.introduce("http://172.16.0.1:9000", key(1))
    core.peers.introduce("http://172.16.0.2:9000", key(1))

    def hellos() -> list[Call]:
        clock.t += 1.0
        return [a for a in core.tick() if isinstance(a, Call) and a.kind == "hello"]

    assert not any(c.url.startswith("http://172.16.") for c in hellos())  # within grace
    clock.t += GRACE_SECONDS
    dialled = [c.url for c in hellos() if c.url.startswith("http://172.16.")]
    assert dialled == ["http://172.16.0.1:9000"]


def test_config_defaults_match_the_table() -> None:
    assert GossipConfig().peers_per_host == MAX_PER_HOST
    assert GossipConfig().peers_per_loopback == MAX_PEERS


STEPS = st.lists(
    st.tuples(
        st.sampled_from(["admit", "reward", "wait"]),
        st.integers(1, 120),  # a key
        st.integers(0, 11),  # its host (0: loopback)
    ),
    max_size=300,
)


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_the_table_keeps_its_bounds(steps: list[tuple[str, int, int]]) -> None:
    """Whatever admits, rewards and waits: the table holds at most ``max_peers``, each host
    group at most its share, and a peer with a positive score is never displaced."""
    dropped: list[str] = []
    peers, clock = table(max_peers=16, per_host=3, per_loopback=5, on_drop=dropped.append)
    for op, k, host in steps:
        if op == "admit":
            where = "127.0.0.1" if host == 0 else f"10.0.{host}.{k}"
            before = peers.get(key(k))
            score = {p["key"]: p["score"] for p in peers.to_json()}
            peers.admit(key(k), f"http://{where}:{k}")
            for gone in dropped:
                assert score.get(gone, 0) <= 0, (gone, score)
            dropped.clear()
            if before is not None:
                continue
        elif op == "reward":
            peers.reward(key(k))
        else:
            clock.t += k
        groups: dict[str, int] = {}
        for p in peers.to_json():
            g = host_group(str(p["url"]))
            groups[g] = groups.get(g, 0) + 1
        assert len(peers) <= 16
        assert all(n <= (5 if g == "loopback" else 3) for g, n in groups.items()), groups
