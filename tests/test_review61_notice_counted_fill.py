"""review61: a peer's settlement notice naming a match that a soft-cancelled order's record
already counts (mined before the cancel) must not count it again.

reorg60 counts, for an order soft-cancelled here, the fills of a peer's settlement notice up
to the chain's filled amount: a match in flight when the cancel was taken. The amount was
added to the record's, bounded by the chain's filled amount at the latest block. A hostile
peer names the node's own match, mined before the cancel (its fill already in the record):
the record then took the wallet's own ``fillOrder`` made after the cancel, up to that
match's amount (the fill review23 leaves out for the audit to see). The notice's fills now
count only up to the chain's filled amount as of that transaction's block. Since cancel62 the
record follows the chain's filled amount (the wallet's fill after the cancel counts), and a
notice sets the amount as of its block, never adds: the old match lowers nothing either."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


async def filled_here(api: Api, order_hash: str) -> int:
    code, rec = await api.get(f"/v1/orders/{order_hash}")
    assert code == 200, rec
    return int(rec["metaData"]["filledMakerAmount"])


async def test_a_notice_of_a_match_counted_before_the_cancel_counts_nothing_more(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await api.post_taken(half))[0] == 201
        assert (await api.post_taken(c.sign(bid(c, BOB, E18, 1000 * E6))))[0] == 201
        await wait_for(lambda: c.exchange.order_info(half.order).filled == E18, timeout=60)
        block = c.rpc.call("eth_getBlockByNumber", "latest", False)
        (match_tx,) = block["transactions"]  # the node's settlement: filled 1 WETH of it

        async def counted() -> bool:
            return await filled_here(api, half.hash_hex) == E18

        await wait_for(counted, timeout=30)
        await cancel_at(api, c, half, ALICE)
        assert await status_at(api, half) == "cancelled"
        # the wallet's own fill after the cancel (for the audit to see): half a WETH more
        c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)
        assert c.exchange.order_info(half.order).filled == E18 + E18 // 2
        total = E18 + E18 // 2

        async def all_counted() -> bool:
            return await filled_here(api, half.hash_hex) == total

        await wait_for(all_counted, timeout=30)  # (the chain's: cancel62)
        assert await node.settlement_notice(match_tx)  # a peer names the old match
        assert await filled_here(api, half.hash_hex) == total  # (as of its block: 1 WETH)
        assert await status_at(api, half) == "cancelled"
