"""cancel65: peers outside the peer table (strangers: their keys are free to make) share one
count of kept cancels (``sdex.node.orphans``) a host group, no longer one in all: a stranger's
flood of made-up cancels evicts its own, never a stranger's on another host.

Before, every stranger's kept cancel was in one count: one stranger's 1,000 made-up cancels
(answered 202, each) evicted an honest stranger's cancel kept before, acknowledged 202 too;
its order then came and was booked open, and traded. Real Hardhat, a real node on loopback,
its peers signed clients (``PeerClient``) and, for the flood, the node's gossip entry for
cancels called in process with the addresses they come from."""

from __future__ import annotations

import os
from pathlib import Path

from sdex.gossip import NodeKey, PeerClient
from sdex.node.orphans import OrphanCancels
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_cancel63_cancel_before_order import notice_of, relayed
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_strangers_flood_keeps_a_stranger_on_another_host_in(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=120)  # (the defaults: 1k, 20k)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        notice = notice_of(c, withdrawn, c.keys[ALICE])
        honest = NodeKey.generate().node_id  # (neither is in the peer table)
        assert node.cancel_notice(notice, honest, "192.0.2.7").status == 202
        for _ in range(1000):  # made-up keys too: one count for their host
            fake = {"orderHash": "0x" + os.urandom(32).hex(), "signature": notice["signature"]}
            hostile = NodeKey.generate().node_id
            assert node.cancel_notice(fake, hostile, "198.51.100.9").status == 202
        assert len(node.orphan_cancels) == 50 + 1  # the flood's share, and the honest one
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: open
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 1000 * E6)))
        assert withdrawn.hash_hex not in {m["restingOrderHash"] for m in body.get("matches", [])}


async def test_a_strangers_cancel_over_http_counts_against_its_host(
    chain: Chain, tmp_path: Path
) -> None:
    """The route gives the node the address a stranger's request came from: its kept cancel
    is counted against its host group (loopback here), stored so."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        notice = notice_of(c, withdrawn, c.keys[ALICE])
        assert await relayed(peer, node, api, "/p2p/cancels", notice) == 200  # (kept: 202)
        rows = await node.store.orphan_rows(0.0, 10)
        assert [(r[0], r[2], r[3]) for r in rows] == [
            (withdrawn.hash, peer.key.node_id, "strangers:loopback")
        ]
