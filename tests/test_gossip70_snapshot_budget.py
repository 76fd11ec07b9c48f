"""A peer's snapshot pages (``GET /p2p/snapshot``) are bounded by a budget of its own
(gossip70, found by gossip69; ``sdex.gossip.budgets.snapshot_budget``): a page of 1,000
orders cost ~9.2 ms of the node's loop for one token of the peer's request budget (2,000 a
second), so one peer asking pages again and again could take most of the loop. A full
book at once (an honest bootstrap is not slowed), then ``BOOTSTRAP_SPEED`` books a
``snapshot_seconds``; over it a page holds fewer orders, never none."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from sdex.gossip import GossipConfig
from sdex.gossip.budgets import BOOTSTRAP_SPEED
from sdex.gossip.client import PeerClient
from sdex.ingest.limits import Limits
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of
from tests.p2putil import serve_gossip
from tests.test_hashes67_listing import hold
from tests.test_stream import until

BOOK = 3_000
"""Open orders the node may hold (``max_orders`` + ``max_unfunded``): its peers' budget."""
HELD = BOOK + 300
"""Open orders it holds (more than its budget: records of its own, not through the intake)."""


async def test_a_peers_snapshot_pages_are_bounded_and_never_empty(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node; a peer it admitted (a real gossip driver on loopback) walks its
    snapshot pages of 1,000 to the end. The first ``BOOK`` orders come whole (an
    honest bootstrap), then each page holds what the budget refilled, never fewer than one
    order; in all no more than ``BOOK`` plus the refill plus one a page (before: every page
    held 1,000)."""
    limits = Limits(max_orders=BOOK - 1_000, max_unfunded=1_000)
    async with running_node(node_config(chain, tmp_path / "n.db", limits=limits)) as (node, _):
        assert node.gossip is not None
        quiet = GossipConfig(dial_interval=0.1, ae_interval=1e6)
        peer = await serve_gossip(quiet, [url_of(node)])
        try:
            await peer.gossip.start()
            await until(lambda: node.gossip is not None and len(node.gossip.peers) == 1)
            hold(node, chain, HELD)
            to = node.gossip.key.node_id
            async with aiohttp.ClientSession() as session:
                client = PeerClient(session, peer.gossip.key, peer.url)
                sizes: list[int] = []
                start = time.monotonic()
                after = 0
                while True:
                    params = {"after": str(after), "limit": "1000"}
                    got = await client.call(
                        "GET", url_of(node), "/p2p/snapshot", params=params, to=to
                    )
                    assert got.status == 200, got.body
                    orders, after = got.body["orders"], got.body["next"]
                    if not orders:
                        break
                    sizes.append(len(orders))
                took = time.monotonic() - start
        finally:
            await peer.runner.shutdown()
            await peer.gossip.stop()
            await peer.runner.cleanup()
    assert sizes[:3] == [1000] * 3  # a full book at once
    assert min(sizes) >= 1 and sum(sizes) == HELD  # (never an empty page: every order)
    rate = BOOTSTRAP_SPEED * BOOK / node.gossip.config.snapshot_seconds
    assert sum(sizes) <= BOOK + rate * took + len(sizes)  # before: 4 pages
