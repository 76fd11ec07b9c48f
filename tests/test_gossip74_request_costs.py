"""What an admitted peer's requests may cost a node's loop, by kind (gossip74, measured by
``bench/gossip74_peer_requests.py``): at a token of the peer's request budget each (2,000 a
second), a digest (~1.8 times the loop's time of the cheapest request) and a soft cancel
(its maker's signature recovered: ~2.1 times) bought more of the loop than any other
request but pages, and a page of ``GET /p2p/cancelled`` (1,000 orders, ~12 ms: ~40 times)
the whole loop. Now a digest and a cancel cost ``DIGEST_TOKENS`` and ``CANCEL_TOKENS``, and
the cancelled pages a peer is answered are bounded by a budget of their own, as snapshot
pages are (``sdex.gossip.budgets.cancelled_budget``): a full book at once, then
``BOOTSTRAP_SPEED`` books a ``snapshot_seconds``, never an empty page."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.budgets import BOOTSTRAP_SPEED, CANCEL_TOKENS, DIGEST_TOKENS, cancelled_budget
from sdex.gossip.client import PeerClient
from sdex.httpkit import RateLimit
from tests.p2putil import Member, MemoryNode, serve_gossip

BOOK = 3_000
"""The node's ``max_orders``: its peers' budget of cancelled orders at once."""
HELD = BOOK + 100
"""Soft-cancelled orders it holds."""
BURST = 40
"""The peers' request budget at once (``LIMIT``)."""
LIMIT = RateLimit(rate=1.0, burst=BURST)


class Cancelled(MemoryNode):
    """Holds ``HELD`` soft-cancelled orders (their page entries: seq i + 1, from 0)."""

    async def cancelled_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        top = min(after + limit, HELD)
        rows = [{"hash": f"0x{i:064x}", "cancelSignature": "0x00"} for i in range(after, top)]
        return rows, max(after, top)


async def served(
    make: type[MemoryNode], limit: RateLimit | None = None, admitted: bool = True
) -> tuple[Member, NodeKey]:
    """A real gossip driver on loopback (its peers' rate ``limit``) and a key it admitted
    (or, not ``admitted``, a stranger's)."""
    member = await serve_gossip(GossipConfig(ae_interval=1e6), [], make=make, limit=limit)
    key = NodeKey.generate()
    if admitted:
        assert member.gossip.peers.admit(key.node_id, "http://127.0.0.1:9") is not None
    return member, key


async def close(member: Member) -> None:
    await member.runner.shutdown()
    await member.gossip.stop()
    await member.runner.cleanup()


CANCEL = {"orderHash": "0x" + "ab" * 32, "signature": "0x" + "cd" * 65}


@pytest.mark.parametrize(
    ("method", "path", "body", "tokens"),
    [
        ("GET", "/p2p/digest", None, DIGEST_TOKENS),
        ("POST", "/p2p/cancels", CANCEL, CANCEL_TOKENS),
    ],
)
async def test_a_dearer_request_costs_more_of_the_request_budget(
    method: str, path: str, body: Any, tokens: float
) -> None:
    """A stranger asks one kind until it is answered 429: the strangers' budget (``BURST``
    / 4 tokens, 1/4 a second) answers ``BURST / 4 / tokens`` of them (before: ``BURST / 4``).
    (An admitted peer's requests pay for the loop time they took instead, gossip77:
    ``tests/test_gossip77_peer_costs.py``.)"""
    member, key = await served(MemoryNode, LIMIT, admitted=False)
    try:
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, key, "http://127.0.0.1:9")
            answered = 0
            for _ in range(3 * BURST):
                got = await client.call(method, member.url, path, body, to=member.gossip.node_id)
                if got.status == 429:
                    break
                assert got.status == 200, got.body
                answered += 1
    finally:
        await close(member)
    most = BURST / 4 / tokens
    assert most - 1 <= answered <= most + 2, answered  # before: BURST / 4


async def test_a_peers_cancelled_pages_are_bounded_and_never_empty() -> None:
    """An admitted peer walks a node's soft-cancelled orders in pages of 1,000 to the end:
    the first ``BOOK`` come whole, then each page holds what the budget refilled, never
    fewer than one; in all no more than ``BOOK`` plus the refill plus one a page (before:
    every page held 1,000)."""
    member, key = await served(Cancelled)
    cfg = member.gossip.config
    member.gossip.cancelled_pages = cancelled_budget(cfg, BOOK)  # (a node of ``BOOK``)
    sizes: list[int] = []
    try:
        async with aiohttp.ClientSession() as session:
            client = PeerClient(session, key, "http://127.0.0.1:9")
            start, after = time.monotonic(), 0
            while True:
                params = {"after": str(after), "limit": "1000"}
                got = await client.call(
                    "GET", member.url, "/p2p/cancelled", params=params, to=member.gossip.node_id
                )
                assert got.status == 200, got.body
                orders, after = got.body["orders"], got.body["next"]
                if not orders:
                    break
                sizes.append(len(orders))
            took = time.monotonic() - start
    finally:
        await close(member)
    assert sizes[:3] == [1000] * 3  # a full book at once
    assert min(sizes) >= 1 and sum(sizes) == HELD  # (never an empty page: every order)
    rate = BOOTSTRAP_SPEED * BOOK / cfg.snapshot_seconds
    assert sum(sizes) <= BOOK + rate * took + len(sizes)  # before: 4 pages
