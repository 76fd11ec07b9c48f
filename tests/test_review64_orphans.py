"""review64: an attacker's look at the cancels kept for orders not held yet (cancel63).

Real Hardhat; a node on loopback whose peer is a signed client (``PeerClient``), as in
``test_cancel63_cancel_before_order``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sdex.gossip import NodeKey, PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_cancel63_cancel_before_order import notice_of, relayed
from tests.test_node import ALICE, E6, E18, ask


async def test_a_peers_cancel_of_a_hash_of_another_length_is_refused_not_kept(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer's cancel notice names an "order hash" of 16 KB (the body's bound is 64 KB):
    no order has such a hash, so it can cancel nothing. Before, only the signature's form
    was checked: it was kept (202: 200 over the wire) in memory and as a row of 32 KB of hex, 20,000 of them
    at most (~0.6 GB of disk a flood); now it is refused as a malformed notice."""
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        real = notice_of(c, c.sign(ask(c, ALICE, E18, 1000 * E6)), c.keys[ALICE])
        huge = {"orderHash": "0x" + "ab" * 16_384, "signature": real["signature"]}
        short = {"orderHash": "0x" + "ab" * 31, "signature": real["signature"]}
        codes = [await relayed(peer, node, api, "/p2p/cancels", n) for n in (huge, short)]
        assert codes == [400, 400]  # before: [200, 200], both kept
        assert len(node.orphan_cancels) == 0
        assert (await api.get("/health"))[1]["cancelsKept"]["kept"] == 0
        assert await relayed(peer, node, api, "/p2p/cancels", real) == 200  # (32 bytes: kept)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT length(order_hash) FROM orphan_cancels").fetchall()
    assert rows == [(66,)]
