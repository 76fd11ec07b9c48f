"""An admitted peer's requests pay for the loop time they take (gossip77,
``sdex.gossip.metered``): a token of its request budget buys ``LOOP_SHARE / rate`` seconds
of the loop, so its full budget buys at most ``LOOP_SHARE`` of it, whatever it asks. Before,
a request was a token (the digest and a cancel two) whatever it took: one admitted peer's
2,000 a second bought ~45-64% of the loop with the cheapest request (gossip74, review74b).

A real gossip driver on loopback whose digest takes ``DEAR`` seconds of the loop thread's CPU
(burnt on the CPU clock, so a crowded machine does not shorten it); an admitted peer asks it
over signed HTTP and over a stream until it is refused (429, or its stream closed). The
budget's clock stands still (``httpkit``'s only: no refill, so the count does not hang on how
long the crowded machine took): its ``BURST`` tokens pay for at most ``BURST * LOOP_SHARE /
RATE`` seconds of the loop, ~6 dear answers; before, ``BURST / DIGEST_TOKENS``, 20."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from sdex import httpkit
from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip import stream as gstream
from sdex.gossip.client import PeerClient
from sdex.gossip.metered import LOOP_SHARE
from sdex.gossip.routes import STREAM_OPENS
from sdex.httpkit import RateLimit
from tests.p2putil import Member, MemoryNode, serve_gossip

RATE = 400.0
"""The peers' request budget a second: a token buys ``LOOP_SHARE / RATE`` (0.625 ms)."""
BURST = 40
LIMIT = RateLimit(rate=RATE, burst=BURST)
DEAR = 0.004
"""Seconds of the loop thread's CPU each digest takes (6.4 tokens' worth)."""
ASKED = BURST


class Dear(MemoryNode):
    """A node whose digest takes ``DEAR`` seconds of the loop's CPU."""

    def digest(self) -> list[str]:
        end = time.thread_time() + DEAR
        while time.thread_time() < end:
            pass
        return super().digest()


async def served() -> tuple[Member, NodeKey]:
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=Dear, limit=LIMIT)
    await member.gossip.start()  # (its streams are served once it runs)
    key = NodeKey.generate()
    assert member.gossip.peers.admit(key.node_id, "http://127.0.0.1:9") is not None
    return member, key


async def over_http(member: Member, key: NodeKey) -> int:
    async with aiohttp.ClientSession() as session:
        client = PeerClient(session, key, "http://127.0.0.1:9")
        for answered in range(ASKED):
            got = await client.call("GET", member.url, "/p2p/digest", to=member.gossip.node_id)
            if got.status == 429:
                return answered
            assert got.status == 200, got.body
    return ASKED


async def over_a_stream(member: Member, key: NodeKey) -> int:
    async with aiohttp.ClientSession() as session:
        to = member.gossip.node_id
        link = await gstream.dial(session, key, "http://127.0.0.1:9", member.url, to, print)
        try:
            for answered in range(ASKED):
                try:
                    status, body = await link.request("GET", "/digest", None, None, 10.0)
                except gstream.StreamDown:
                    return answered  # (a frame over the peer's budget closes its stream)
                if status == 429:
                    return answered
                assert status == 200, body
        finally:
            await link.close()
    return ASKED


@pytest.mark.parametrize("ask", [over_http, over_a_stream])
async def test_an_admitted_peers_budget_buys_a_bounded_share_of_the_loop(
    ask: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, key = await served()
    monkeypatch.setattr(httpkit, "time", SimpleNamespace(monotonic=lambda: 1e6))  # (no refill)
    try:
        answered = await ask(member, key)
    finally:
        monkeypatch.undo()
        await member.runner.shutdown()
        await member.gossip.stop()
        await member.runner.cleanup()
    opens = 1 + BURST / STREAM_OPENS if ask is over_a_stream else 0  # (its upgrade's)
    most = (BURST - opens) * LOOP_SHARE / RATE / DEAR + 1  # (+1: the answer into debt)
    assert 1 <= answered <= most, (answered, most)  # before: 20 (2 tokens each)
    costs = member.gossip.peer_costs.to_json()
    assert costs["requests"] >= answered and costs["loopSeconds"] >= answered * DEAR
