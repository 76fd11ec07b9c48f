"""chaos66: a chain reset at a restart judges again the stored soft-cancelled orders whose
filled amount the chain may no longer have.

chaos52's seed 2 with ``--outside-fills`` (node 1): a GTC ask soft-cancelled, then another
node's settlement of it (matched before the cancel reached that node) landed and node 1 gave
its cancelled record the chain's filled amount (cancel62); a reorg undid that block and node
1 was killed 0.04 s later; at the restart its saved head was off the chain, the node read it
anew from block 1, and that reset judged again the orders the chain closed and the
``removed`` ones with a fill (chaos61), not the soft-cancelled ones: ``cancelled`` with the
whole order filled, the chain 0 (``node_filled_above_chain``, every phase after).

Real Hardhat (``evm_snapshot``/``evm_revert`` while the node is down), a real node and
SQLite store. The state the kill left is made by the store's own reorg step
(``remove_fills_above``: the fills gone, the records untouched), as chaos61's test does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.reorgutil import killed_after_reorg, reset_at_restart, settled
from tests.test_mirror import meta
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


@pytest.mark.parametrize("kept", [False, True])  # (True: the saved blocks undone, watch81)
async def test_a_reset_at_restart_gives_a_soft_cancelled_order_the_chains_filled_amount(
    chain: Chain, tmp_path: Path, kept: bool
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2)
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        assert (await api.post_taken(taker))[0] == 201
        await settled(c, node, api, resting)
        sig = sign_cancel(c.domain, resting.hash, c.keys[ALICE])
        code, body = await api.post(
            f"/v1/orders/{resting.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert code == 200, body
        m = await meta(api, resting)
        assert (m["status"], m["filledMakerAmount"]) == ("cancelled", str(E18)), m
        await killed_after_reorg(node, resting)

    async with reset_at_restart(c, cfg, snap, resting, kept) as (node, api):  # before: E18 for good
        assert (await meta(api, resting))["status"] == "cancelled"
