"""A peer's concurrent ``POST /p2p/fetch`` requests share its budget (review71; gossip69's
``sdex.gossip.budgets.fetch_budget``): the route read the budget, awaited the store's read
of cancel proofs (a ``why`` naming an order evicted from memory), and spent it after, so
each of a peer's fetches sent together read the whole budget before any spent: eight at
once were answered 5,000 orders each, the loop's cost the budget was made to bound."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from sdex.gossip.budgets import FETCH_ROUNDS
from sdex.gossip.client import PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of
from tests.p2putil import admitted_peer
from tests.test_gossip69_fetch_budget import ASKED, HELD
from tests.test_hashes67_listing import hold, spread

AT_ONCE = 8


async def test_concurrent_fetches_of_one_peer_share_its_budget(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node holding 20,000 open orders, one of its stored orders out of memory (the
    filter of evicted hashes holds it); an admitted peer (a real gossip driver on loopback)
    sends 8 fetches at once, each naming 5,000 open orders and asking ``why`` of the
    evicted one (a store read). Together they are answered at most the budget: twice
    ``FETCH_ROUNDS`` rounds at once and ``FETCH_ROUNDS`` an interval more (before: 8 x
    4,096, each read the full budget)."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _):
        gossip = node.gossip
        assert gossip is not None
        async with admitted_peer(node, url_of(node)) as peer:
            hold(node, chain, HELD)
            gone = spread(HELD + 1)  # (a stored order not in memory: its proof is read)
            node.registry.forget([bytes.fromhex(gone[2:])])
            asked = [spread(i) for i in range(ASKED)]
            cfg = gossip.config
            per_round = cfg.ae_max_fetches * cfg.batch_max
            async with aiohttp.ClientSession() as session:
                client = PeerClient(session, peer.gossip.key, peer.url)
                body = {"hashes": asked, "why": [gone]}
                start = time.monotonic()
                got = await asyncio.gather(
                    *(
                        client.call("POST", url_of(node), "/p2p/fetch", body, to=gossip.key.node_id)
                        for _ in range(AT_ONCE)
                    )
                )
                took = time.monotonic() - start
            assert all(g.status == 200 for g in got), [g.status for g in got]
            answered = sum(len(g.body["orders"]) for g in got)
            rounds = 2 * FETCH_ROUNDS + FETCH_ROUNDS * took / cfg.ae_interval
            assert per_round <= answered <= rounds * per_round + AT_ONCE, (answered, took)
