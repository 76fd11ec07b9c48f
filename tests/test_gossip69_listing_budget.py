"""An admitted peer's hash listings (``POST /p2p/hashes``) are bounded by a budget of its
own (gossip69; ``sdex.gossip.listing.listing_budget``): its request budget (2,000 tokens a
second, 4,000 at once) bought ~15 full listings a second, ~27% of the node's loop, where
an honest peer asks one an anti-entropy round. Over its budget a peer is answered fewer
hashes (whole buckets that fit, or none), never a refusal that its round counts a failure."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from sdex.gossip.client import PeerClient
from sdex.gossip.flows import bucket_of
from sdex.gossip.listing import BURST, MAX_LISTED, PER_INTERVAL, listing_budget
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of
from tests.p2putil import admitted_peer
from tests.test_gossip_core import Clock
from tests.test_hashes67_listing import FULL, hold

ASKS = 20
"""Listings of every bucket the peer asks, one after another (129 tokens each: 2,580 of its
4,000 at once, all answered in full before)."""


async def test_an_admitted_peers_listings_are_bounded_by_its_own_budget(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node holding 200,000 gossiped orders; a peer it admitted (a real gossip
    driver on loopback: its hello, dialled back) asks for all 256 buckets ``ASKS`` times.
    It is listed at most ``BURST`` full listings and ``PER_INTERVAL`` more an anti-entropy
    interval, each answer whole buckets (every hash held there), every answer a 200."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        assert node.gossip is not None
        async with admitted_peer(node, url_of(node)) as peer:
            assert node.gossip.peers.get(peer.gossip.node_id) is not None
            hold(node, chain, FULL)
            body, to = {"buckets": list(range(256))}, node.gossip.key.node_id
            async with aiohttp.ClientSession() as session:
                client = PeerClient(session, peer.gossip.key, peer.url)
                listed, start = 0, time.monotonic()
                for _ in range(ASKS):
                    got = await client.call("POST", url_of(node), "/p2p/hashes", body, to=to)
                    assert got.status == 200, got.body
                    hashes, done = got.body["hashes"], got.body["buckets"]
                    named = {bucket_of(h) for h in hashes}
                    if done:  # whole buckets
                        assert sorted(hashes) == sorted(node.hashes_in(done))
                        assert named == set(done)
                    elif hashes:  # a slice of one bucket, from a random place
                        assert len(named) == 1 and set(hashes) <= set(node.hashes_in(named))
                    listed += len(hashes)
                took = time.monotonic() - start
            interval = node.gossip.config.ae_interval
            assert listed >= MAX_LISTED // 2  # (a first answer of whole buckets)
            assert listed <= (BURST + PER_INTERVAL * took / interval) * MAX_LISTED


def test_the_budget_refills_per_interval_and_is_kept_per_peer() -> None:
    """``BURST`` full listings at once, then ``PER_INTERVAL`` an interval; one peer's
    spending is not another's."""
    clock = Clock()
    budget = listing_budget(2.0)
    budget.clock = clock
    for _ in range(BURST):
        assert budget.most("a") == MAX_LISTED
        budget.spend("a", MAX_LISTED)
    assert budget.most("a") == 0 and budget.most("b") == MAX_LISTED
    clock.t += 1.0  # half an interval: 0.75 of a listing
    assert budget.most("a") == int(PER_INTERVAL * MAX_LISTED / 2)
    clock.t += 100
    assert budget.most("a") == MAX_LISTED
