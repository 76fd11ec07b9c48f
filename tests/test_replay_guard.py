"""Signed peer requests seen before are refused (replays), and one sender's volume cannot
make another's refused (review13: a full memory refused every signed request, honest peers'
too); a key's identical requests in one millisecond are two requests, not a replay."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sdex.gossip.identity as identity
import sdex.gossip.routes as routes
from sdex.gossip import NodeKey
from sdex.gossip.replay import WINDOW, ReplayGuard
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_refuses_only_its_sender() -> None:
    clock = Clock()
    guard = ReplayGuard(capacity=100, clock=clock)
    honest = [f"h{i}" for i in range(10)]
    assert all(guard.fresh(s, "honest") for s in honest)
    flood = [guard.fresh(f"x{i}", "hostile") for i in range(1_000)]
    assert flood[:90] == [True] * 90 and not any(flood[90:])  # its own volume, refused
    assert len(guard) == 100 and guard.charged("honest") == 10
    assert all(not guard.fresh(s, "honest") for s in honest)  # still replays
    assert guard.fresh("h-new", "honest")  # the hostile sender's oldest makes room
    assert guard.charged("hostile") == 89 and len(guard) == 100
    assert not guard.fresh("x0", "hostile")  # evicted, yet still refused: over its share


def test_signatures_are_forgotten_after_the_window() -> None:
    clock = Clock()
    guard = ReplayGuard(capacity=10, clock=clock)
    assert guard.fresh("a", "p") and not guard.fresh("a", "p")
    clock.now += WINDOW - 0.001
    assert not guard.fresh("a", "p")
    clock.now += 0.002
    assert guard.fresh("a", "p")  # its time is out of the window: refused by that check
    assert len(guard) == 1


@given(st.lists(st.tuples(st.sampled_from("abcd"), st.integers(0, 40)), max_size=120))
def test_a_sender_under_an_equal_share_keeps_every_signature(
    asks: list[tuple[str, int]],
) -> None:
    """Whatever the others send, a sender with fewer than ``capacity / senders`` signatures
    remembered loses none of them (so no replay of its requests gets through)."""
    guard = ReplayGuard(capacity=12, clock=Clock())
    for sender, n in asks:
        before = {s: guard.charged(s) for s in "abcd"}
        senders = sum(1 for k in before.values() if k) + (before[sender] == 0)
        guard.fresh(f"{sender}{n}", sender)
        assert len(guard) <= 12
        for s, k in before.items():
            if s != sender and k * senders < 12:
                assert guard.charged(s) == k, (s, before)


def test_identical_requests_in_one_millisecond_are_signed_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(identity.time, "time", lambda: 1_700_000_000.0)
    key = NodeKey.generate()
    one = key.request_headers("POST", "/p2p/settled", b"{}", "http://127.0.0.1:1")
    two = key.request_headers("POST", "/p2p/settled", b"{}", "http://127.0.0.1:1")
    assert one[identity.HEADER_SIG] != two[identity.HEADER_SIG]
    assert int(two[identity.HEADER_TIME]) == int(one[identity.HEADER_TIME]) + 1


async def test_strangers_filling_the_memory_leave_a_peers_requests_fresh(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real node whose replay memory holds 8: strangers' signed requests fill it (all
    strangers are one sender), and an admitted peer's requests still pass; its replays and
    the strangers' further requests are refused."""
    monkeypatch.setattr(routes, "ReplayGuard", functools.partial(ReplayGuard, capacity=8))
    cfg = node_config(chain, tmp_path / "n.db")
    body = json.dumps({"buckets": [1]}).encode()

    async def post(session: aiohttp.ClientSession, headers: dict[str, str]) -> int:
        headers = {**headers, "Content-Type": "application/json"}
        async with session.post(api.base + "/p2p/hashes", data=body, headers=headers) as r:
            return r.status

    async with running_node(cfg) as (node, api), aiohttp.ClientSession() as session:
        assert node.gossip is not None
        me, to = "http://127.0.0.1:9", node.gossip.key.node_id
        strangers = [NodeKey.generate() for _ in range(12)]
        answers = [
            await post(session, k.request_headers("POST", "/p2p/hashes", body, me, to))
            for k in strangers
        ]
        assert 401 not in answers[:8] and answers[8:] == [401] * 4, answers
        peer = NodeKey.generate()
        assert node.gossip.peers.admit(peer.node_id, "http://127.0.0.1:19") is not None
        signed = peer.request_headers("POST", "/p2p/hashes", body, "http://127.0.0.1:19", to)
        assert await post(session, signed) != 401
        assert await post(session, signed) == 401  # a replay
        again = peer.request_headers("POST", "/p2p/hashes", body, "http://127.0.0.1:19", to)
        assert await post(session, again) != 401
