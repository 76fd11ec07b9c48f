"""Left50 (left48's leftover): a bootstrap seed that serves empty pages (no soft cancel, no
open order: a lying or broken seed) was taken at its word: the walk ended at its "last
page", ``cancels_loaded`` was set, and no other peer's soft cancels were ever walked, so an
order its maker had withdrawn could be posted here and traded (attack38's hole, reopened by
one seed). Now, when another peer shows orders the empty seed did not, its soft-cancelled
pages are walked before its orders are fetched. Here the seed introduces an honest peer
(real signed /p2p/ peers on loopback, ``HostilePeer``) that holds one cancel and one order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from sdex.gossip import GossipConfig
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack38_cancelled_entries import entry
from tests.test_gossip_refused import OfferingPeer
from tests.test_hostile import hello_answer
from tests.test_node import ALICE, CAROL, E6, E18, ask

GOSSIP = GossipConfig(ae_interval=0.1, dial_interval=0.1, streams=False)


def cancelled_pages(entries: list[dict[str, Any]]) -> Any:
    """``/p2p/cancelled`` answering ``entries`` on its first page, then none."""

    def answer(r: web.Request) -> object:
        first = int(r.query.get("after", "0")) == 0
        return {"orders": entries if first else [], "next": 1}

    return answer


async def test_a_seed_serving_empty_pages_does_not_hide_another_peers_soft_cancels(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))  # Alice took this price back
    still_open = c.sign(ask(c, CAROL, E18, 5000 * E6))
    seed, honest = OfferingPeer(), OfferingPeer()
    honest.orders[still_open.hash_hex.lower()] = still_open.to_json()
    honest.peer.answers["/p2p/cancelled"] = cancelled_pages([entry(c, withdrawn)])
    seed.peer.answers["/p2p/cancelled"] = cancelled_pages([])  # (and no open order)
    async with seed.peer.serving(), honest.peer.serving():
        seed.peer.answers["/p2p/hello"] = hello_answer(seed.peer, [honest.peer.url])
        cfg = node_config(c, tmp_path / "n.db", peers=(seed.peer.url,), gossip=GOSSIP)
        async with running_node(cfg) as (node, api):
            await wait_for(lambda: node.knows(still_open.hash_hex.lower()), timeout=30)
            assert seed.calls("/p2p/cancelled") >= 1  # (the seed was the bootstrap's)
            # anyone posts the withdrawn order here: held cancelled, not taken as new
            code, body = await api.post_order(withdrawn)  # before: 201, open
            assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
            assert honest.calls("/p2p/cancelled") >= 1
