"""chaos60: an order the chain filled, which its maker then soft-cancelled at the node (the
cancel answered 200, the order ``filled``), is ``cancelled`` once a reorg undoes that fill:
the chain has it fillable again, and its maker has cancelled it. Before, ``_rejudge`` kept
a chain-closed order with a soft cancel as it was, with the chain's filled amount: ``filled``
with 0 filled, the chain ``FILLABLE`` at 0 (chaos52 seed 2, nodes 1 and 2:
``state_mismatch``)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.reorgutil import reorged, soft_cancel
from tests.sandwich import node_on
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_a_soft_cancelled_order_whose_fill_a_reorg_undid_is_cancelled(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    async with node_on(c, tmp_path) as (node, api):
        assert (await api.post_taken(sell))[0] == 201
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        c.exchange.fill_order(c.sender(BOB), sell, 300 * E6)  # all of it, on chain
        await synced(node, c)
        assert (await meta(api, sell))["status"] == "filled"
        assert (await soft_cancel(c, api, sell, ALICE))["status"] == "filled"
        await reorged(c, node, snap)
        assert c.exchange.order_info(sell.order).filled == 0
        got = await meta(api, sell)
        # before: "filled", 0 filled (the chain FILLABLE at 0)
        assert (got["status"], got["filledMakerAmount"]) == ("cancelled", "0")
        assert sell.hash not in node.book  # (cancelled: never offered again)
