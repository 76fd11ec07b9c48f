"""Sybil keys cannot keep the candidate list full (peer31; Bitcoin Core's addrman buckets).

Keys are free: every new stranger key that sends a hello got its own ``MAX_INTRODUCED``
introductions, so one machine making keys kept the 256-URL list full of its URLs and honest
introductions were refused. Each candidate now counts against the host group its
introduction came from (the hello's client address: ``SOURCE_SHARE``) and its URL's own
(``TARGET_SHARE``); when the list is full, an under-represented source group's candidate
replaces one of the most-represented group's. Sans-I/O: the table's clock and random source
are injected; one HTTP test shows the route passes the client address through."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.candidates import SOURCE_SHARE, TARGET_SHARE, Candidate, Waiting
from sdex.gossip.core import GossipCore
from sdex.gossip.hosts import LOOPBACK, host_group
from sdex.gossip.peers import MAX_CANDIDATES, MAX_INTRODUCED
from tests.p2putil import Book, serve_gossip
from tests.test_peer28_table import Clock, key

ME = "0x" + "ee" * 20


def target(i: int) -> str:
    """A URL in its own /24 (the target bound is not what most tests here test)."""
    return f"http://10.{(i >> 8) & 255}.{i & 255}.1:9000"


def core(config: GossipConfig | None = None) -> GossipCore:
    return GossipCore(
        ME,
        "http://me.test:1",
        [],
        Book(),
        config or GossipConfig(),
        clock=Clock(),
        rng=random.Random(7),
    )


def sybils(c: GossipCore, first: int, n: int, address: str | None, base: int) -> int:
    """``n`` fresh keys from ``address`` each say hello claiming a new URL and sharing
    ``MAX_INTRODUCED`` more: the candidates that got in."""
    before = len(c.peers.candidates)
    for i in range(first, first + n):
        u = base + (i - first) * (MAX_INTRODUCED + 1)
        shared = [target(u + 1 + j) for j in range(MAX_INTRODUCED)]
        c.hello(key(i), target(u), {"peers": shared}, address=address)
    return len(c.peers.candidates) - before


def by_source(c: GossipCore) -> Counter[str]:
    return Counter(cand.source for cand in c.peers.candidates.values())


def test_many_keys_from_one_source_group_take_at_most_its_share() -> None:
    c = core()
    # 40 keys on 40 addresses of one /24 (a machine with a block, or one NAT): one group
    for k in range(40):
        sybils(c, 1000 + k, 1, f"203.0.113.{k + 1}", base=k * 100)
    assert len(c.peers.candidates) == SOURCE_SHARE
    assert by_source(c) == {"203.0.113.0/24": SOURCE_SHARE}
    # honest peers from other groups still get in, each up to its own id's burst
    for g in range(3):
        got = sybils(c, 2000 + g, 1, f"198.51.{g}.7", base=10_000 + g * 100)
        assert got == MAX_INTRODUCED
    assert len(c.peers.candidates) == SOURCE_SHARE + 3 * MAX_INTRODUCED


def test_a_full_list_takes_an_under_represented_source_from_the_most_represented() -> None:
    c = core()
    groups = MAX_CANDIDATES // SOURCE_SHARE
    for g in range(groups):  # the whole list: 8 groups of 32 (two keys of 16 each)
        assert sybils(c, 100 * g, 2, f"192.0.{g}.9", base=g * 1000) == SOURCE_SHARE
    assert len(c.peers.candidates) == MAX_CANDIDATES
    got = sybils(c, 5000, 1, "198.51.100.1", base=50_000)
    assert got == 0  # (the list stays full: each one replaced another)
    counts = by_source(c)
    assert counts["198.51.100.0/24"] == MAX_INTRODUCED
    assert len(c.peers.candidates) == MAX_CANDIDATES
    assert max(counts.values()) - min(counts.values()) <= SOURCE_SHARE - MAX_INTRODUCED + 1
    # a group as represented as the most (less one) replaces nothing: no churn for nothing
    even = core()
    for g in range(groups):
        sybils(even, 100 * g, 2, f"192.0.{g}.9", base=g * 1000)
    for g in range(groups):  # take one from each: 31 each, 8 free places
        url = next(u for u, cd in even.peers.candidates.items() if cd.source == f"192.0.{g}.0/24")
        del even.peers.candidates[url]
    sybils(even, 7000, 1, "198.51.100.1", base=70_000)  # 8 in, then full: 8+1 < 31
    assert by_source(even)["198.51.100.0/24"] == MAX_INTRODUCED


def test_a_full_list_never_replaces_a_seed() -> None:
    c = GossipCore(
        ME,
        "http://me.test:1",
        [f"http://172.16.{i}.1:9000" for i in range(100)],
        Book(),
        GossipConfig(),
        clock=Clock(),
        rng=random.Random(3),
    )
    for g in range(5):
        sybils(c, 100 * g, 2, f"192.0.{g}.9", base=g * 1000)
    assert len(c.peers.candidates) == MAX_CANDIDATES
    for g in range(3):
        sybils(c, 9000 + g, 1, f"198.51.{g}.1", base=90_000 + g * 1000)
    assert len(c.peers.candidates) == MAX_CANDIDATES
    assert by_source(c)[""] == 100  # the seeds (source unknown, introducer "")
    assert all(by_source(c)[f"198.51.{g}.0/24"] == MAX_INTRODUCED for g in range(3))


def test_one_target_group_takes_at_most_its_share() -> None:
    """URLs of one /24 introduced from many source groups: at most ``TARGET_SHARE`` wait
    (the table admits 8 of a group anyway)."""
    c = core()
    for k in range(20):
        urls = [f"http://203.0.113.{k * 10 + j}:9000" for j in range(10)]
        c.hello(key(k + 1), urls[0], {"peers": urls[1:]}, address=f"198.51.{k}.1")
    assert len(c.peers.candidates) == TARGET_SHARE
    assert {cd.target for cd in c.peers.candidates.values()} == {"203.0.113.0/24"}


# (keys, address of each (i: the key's index), candidates that get in, what it shows)
CASES = [
    (20, lambda i: "203.0.113.5", SOURCE_SHARE, "one address, many keys: its group's share"),
    (20, lambda i: f"203.0.113.{i}", SOURCE_SHARE, "one /24's addresses: one group"),
    (20, lambda i: f"2001:db8:{i:x}::1", SOURCE_SHARE, "one IPv6 /32: one group"),
    (20, lambda i: f"::ffff:203.0.113.{i}", SOURCE_SHARE, "IPv4-mapped: its /24"),
    (20, lambda i: f"2002:cb00:71{i:02x}::1", SOURCE_SHARE, "6to4 of one /24: its /24"),
    (4, lambda i: f"198.51.{i}.1", 4 * (MAX_INTRODUCED + 1) - 4, "4 groups: each its id's"),
    (20, lambda i: None, MAX_CANDIDATES, "no address (the simulator): as before peer31"),
    (20, lambda i: "127.0.0.1", MAX_CANDIDATES, "loopback, default config: the whole list"),
]


@pytest.mark.parametrize(("keys", "address", "expected", "why"), CASES, ids=[c[3] for c in CASES])
def test_hellos_from_source_groups(keys: int, address: object, expected: int, why: str) -> None:
    c = core()
    assert callable(address)
    for i in range(keys):
        sybils(c, 100 + i, 1, address(i), base=i * 100)
    # (each key: its claimed URL and 16 shared, 16 of the 17 within its own burst)
    assert len(c.peers.candidates) == min(expected, keys * MAX_INTRODUCED), why


def test_loopback_bounded_like_a_host_when_its_table_bound_is() -> None:
    """A config that bounds loopback peers like one host (``peers_per_loopback`` 8 of 64)
    bounds loopback's candidates to the same share of the list."""
    c = core(GossipConfig(peers_per_loopback=8))
    for i in range(40):
        url = f"http://127.0.0.1:{20_000 + i}"
        c.hello(key(100 + i), url, {}, address="127.0.0.1")
    assert len(c.peers.candidates) == MAX_CANDIDATES * 8 // 64 == 32 > TARGET_SHARE
    assert by_source(c) == {LOOPBACK: 32}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 11), st.integers(0, 40), st.integers(1, 20)),
        max_size=60,
    )
)
def test_shares_hold_whatever_the_hellos(hellos: list[tuple[int, int, int, int]]) -> None:
    """Any hellos from any keys, source groups and target groups: no source group holds
    more than its share, no target group more than its, no id more than its burst, the
    list no more than its size."""
    c = core()
    n = 0
    for k, group, tgt, many in hellos:
        c.peers.clock.t += 7  # type: ignore[attr-defined]
        urls = [
            f"http://10.{tgt}.{(n + j) % 256}.{(n + j) // 256 % 250 + 1}:1" for j in range(many)
        ]
        n += many
        c.hello(key(k + 1), urls[0], {"peers": urls[1:]}, address=f"100.{group}.0.1")
        cands = list(c.peers.candidates.values())
        assert len(cands) <= MAX_CANDIDATES
        assert max(Counter(cd.source for cd in cands).values(), default=0) <= SOURCE_SHARE
        assert max(Counter(cd.target for cd in cands).values(), default=0) <= TARGET_SHARE
        assert max(Counter(cd.by for cd in cands).values(), default=0) <= MAX_INTRODUCED
        assert all(cd.target == host_group(u) for u, cd in c.peers.candidates.items())


@pytest.mark.parametrize(("per_loopback", "expected"), [(64, 40), (8, 32)])
async def test_the_route_passes_the_client_address(per_loopback: int, expected: int) -> None:
    """Over HTTP on loopback: the candidates count against the hello's client address (one
    group, 127.0.0.1). A devnet (default ``peers_per_loopback``: the whole table) takes
    every node's; one bounding loopback like a host takes its share. The claimed URLs are
    never the node's own (flake66: ``free_port`` picked 30,000 to 30,039 once in ~320 runs,
    and the node, rightly, took no candidate of its own URL: 39)."""
    config = GossipConfig(peers_per_loopback=per_loopback)
    served = await serve_gossip(config, [], admin=False)
    c = served.gossip
    own = int(served.url.rsplit(":", 1)[1])
    ports = [p for p in range(30_000, 30_041) if p != own][:40]
    try:
        url = f"{served.url}/p2p/hello"
        async with asyncio.timeout(60), aiohttp.ClientSession() as session:
            for port in ports:
                claimed = f"http://127.0.0.1:{port}"
                body = json.dumps({"url": claimed, "peers": []}).encode()
                signed = NodeKey.generate().request_headers(
                    "POST", "/p2p/hello", body, claimed, to=c.key.node_id
                )
                headers = {**signed, "Content-Type": "application/json"}
                async with session.post(url, data=body, headers=headers) as r:
                    assert r.status == 200
        assert len(c.peers.candidates) == expected
        assert {cd.source for cd in c.peers.candidates.values()} == {LOOPBACK}
    finally:
        await served.runner.cleanup()


def test_urls_refused_for_their_group_cost_their_introducer() -> None:
    """A URL refused because its host group holds its share was parsed (``host_group``):
    that costs its introducer one introduction, so a key's hellos of URLs into a full group
    make the node parse at most its burst (keys are free; a hello may share 64)."""
    c = core()
    for k in range(TARGET_SHARE):  # one group's share, from other keys and groups
        c.hello(key(k + 1), f"http://203.0.113.{k + 1}:9000", {}, address=f"198.51.{k}.1")
    flood = [f"http://203.0.113.{100 + j}:9000" for j in range(64)]
    c.hello(key(999), flood[0], {"peers": flood[1:]}, address="192.0.2.1")
    s = c.peers.standing(key(999))
    assert s.introduced == 0
    assert s.tokens == 0
    assert c.peers.introduce(target(5000), key(999), "192.0.2.0/24") is False  # spent


def test_a_list_full_of_seeds_refuses_a_known_source() -> None:
    """A list full of the operator's seeds (which count against no group): a candidate
    from a known source group finds no group to replace one of, and is refused."""
    seeds = [f"http://172.16.{i >> 8}.{i & 255}:9000" for i in range(MAX_CANDIDATES)]
    c = GossipCore(ME, "http://me.test:1", seeds, Book(), GossipConfig(), clock=Clock())
    assert sybils(c, 1, 1, "198.51.100.1", base=0) == 0
    assert len(c.peers.candidates) == MAX_CANDIDATES


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["set", "del", "pop", "popfirst", "poplast", "clear"]),
            st.integers(0, 12),
            st.sampled_from(["", "0xa", "0xb"]),
            st.sampled_from(["", "s1", "s2"]),
        ),
        max_size=60,
    )
)
def test_the_lists_counts_follow_every_change(ops: list[tuple[str, int, str, str]]) -> None:
    """``Waiting``'s counts by introducer, source and target are its values' counts after
    any change (seeds and unknown sources counted against nothing)."""
    w = Waiting()
    for op, i, by, source in ops:
        url = f"http://u{i}"
        if op == "set":
            w[url] = Candidate(by, source, f"t{i % 3}")
        elif op == "del" and url in w:
            del w[url]
        elif op == "pop":
            w.pop(url)
        elif op in ("popfirst", "poplast") and w:
            w.popitem(last=op == "poplast")
        elif op == "clear":
            w.clear()
        introduced = [c for c in w.values() if c.by]
        assert w.by == Counter(c.by for c in introduced)
        assert w.sources == Counter(c.source for c in introduced if c.source)
        assert w.targets == Counter(c.target for c in introduced)
