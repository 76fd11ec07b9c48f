"""The orders ``POST /p2p/fetch`` answers are bounded per peer (gossip69;
``sdex.gossip.budgets.fetch_budget``): one request naming 5,000 open orders cost ~39 ms of
the node's loop for one token of the peer's request budget (2,000 a second): one admitted
peer, or the strangers together, could take the whole loop. Over its budget a peer is
answered the first orders it asked that fit, never refused (its round asks the rest next)."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from sdex.gossip import NodeKey
from sdex.gossip.budgets import FETCH_ROUNDS
from sdex.gossip.client import PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of
from tests.p2putil import admitted_peer
from tests.test_hashes67_listing import hold, spread

HELD = 20_000
ASKED = 5_000
"""Hashes a fetch names (``routes.MAX_HASHES``), all open orders the node holds."""
ASKS = 12


async def test_a_peers_fetched_orders_are_bounded_by_its_own_budget(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node holding 20,000 gossiped orders; a peer it admitted (a real gossip driver
    on loopback) and then a stranger each ask ``ASKS`` times for 5,000 of them. Each is
    answered at most twice ``FETCH_ROUNDS`` rounds of the node's fetches at once and
    ``FETCH_ROUNDS`` an interval more, every answer a 200
    (before: 5,000 orders every time)."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        gossip = node.gossip
        assert gossip is not None
        async with admitted_peer(node, url_of(node)) as peer:
            hold(node, chain, HELD)
            asked = [spread(i) for i in range(ASKED)]
            cfg = gossip.config
            per_round = cfg.ae_max_fetches * cfg.batch_max
            async with aiohttp.ClientSession() as session:
                for key in (peer.gossip.key, NodeKey.generate()):  # admitted, a stranger
                    client = PeerClient(session, key, peer.url)
                    answered, start = 0, time.monotonic()
                    for _ in range(ASKS):
                        body = {"hashes": asked}
                        got = await client.call(
                            "POST", url_of(node), "/p2p/fetch", body, to=gossip.key.node_id
                        )
                        assert got.status == 200, got.body
                        answered += len(got.body["orders"])
                    took = time.monotonic() - start
                    rounds = 2 * FETCH_ROUNDS + FETCH_ROUNDS * took / cfg.ae_interval
                    assert per_round <= answered <= rounds * per_round + 1, answered
