"""review66: cancel65 counts strangers' kept cancels one a host group and wallets' one a
client (``sdex.node.orphans``), no longer one count for all strangers. Full, the table
evicts the oldest of the count holding the most: a flood spread over many host groups (an
IPv6 /48 holds 65,536 /64s) holds a few a count, so an admitted peer's honest few were the
most, and went first; its order then came, was booked open, and traded. Now strangers as
one class, and wallets as one, are weighed against each peer: a flood evicts its own class
first. Real Hardhat, a real node on loopback; the gossip entry for cancels called in
process with the addresses the flood comes from."""

from __future__ import annotations

import os
from pathlib import Path

from sdex.gossip import NodeKey
from sdex.node.orphans import OrphanCancels
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_flood_from_many_host_groups_keeps_an_admitted_peers_few(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=120)  # (the defaults: 1k, 20k)
        assert node.gossip is not None
        honest = NodeKey.generate().node_id
        assert node.gossip.peers.admit(honest, "http://127.0.0.2:9") is not None
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        other = c.sign(ask(c, ALICE, E18, 1100 * E6))
        notice = notice_of(c, withdrawn, c.keys[ALICE])
        for so in (withdrawn, other):  # (the honest peer's few: two)
            assert node.cancel_notice(notice_of(c, so, c.keys[ALICE]), honest).status == 202
        for i in range(300):  # one made-up cancel from each of 300 host groups
            fake = {"orderHash": "0x" + os.urandom(32).hex(), "signature": notice["signature"]}
            hostile = NodeKey.generate().node_id
            address = f"2001:db8:0:{i:x}::1"
            assert node.cancel_notice(fake, hostile, address).status == 202
        for i in range(300):  # and from as many wallets' clients
            made_up = os.urandom(32)
            sig = bytes.fromhex(notice["signature"].removeprefix("0x"))
            assert (await node.cancel(made_up, sig, f"2001:db8:1:{i:x}::/64")).status == 202
        assert len(node.orphan_cancels) == 120
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: open
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 1000 * E6)))
        assert withdrawn.hash_hex not in {m["restingOrderHash"] for m in body.get("matches", [])}
