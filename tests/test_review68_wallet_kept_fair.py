"""review68: a wallet's kept cancel (202 "kept") was evicted by other wallets' when the
table was full: every wallet's client counts in one class, and the class's oldest went, so
a few addresses each posting their count's worth of made-up cancels evicted every other
wallet's; its order then came, was booked open and traded, though its maker was told kept.
Now the count in the class holding the most that itself holds the most loses its oldest: a
flood evicts its own. Real Hardhat, a real node on loopback; the wallet entry for cancels
called in process with the clients the flood comes from (loopback has one address)."""

from __future__ import annotations

import os
from pathlib import Path

from sdex.node.orphans import OrphanCancels
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack38_soft_cancel_sync import taken_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_node import ALICE, E6, E18, ask


async def test_a_wallets_kept_cancel_outlives_a_flood_from_a_few_clients(
    chain: Chain, tmp_path: Path
) -> None:
    withdrawn = chain.sign(ask(chain, ALICE, E18, 1000 * E6))
    sig = bytes.fromhex(notice_of(chain, withdrawn, chain.keys[ALICE])["signature"][2:])
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=120)  # (the defaults: 1k, 20k)
        kept = await node.cancel(withdrawn.hash, sig, "198.51.100.7")
        assert (kept.status, kept.body["status"]) == (202, "kept")
        for i in range(3):  # 150 made-up cancels from 3 clients: the table holds 120
            for _ in range(50):
                assert (await node.cancel(os.urandom(32), sig, f"203.0.113.{i}")).status == 202
        assert len(node.orphan_cancels) == 120
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: open
        await taken_at(api, chain, withdrawn)
