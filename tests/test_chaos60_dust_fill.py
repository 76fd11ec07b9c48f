"""chaos60: an order the node closed ``filled`` because what was left of it is dust (below
the node's minimums: the book trades it no more) takes a later fill of that dust: another
node, or a taker's own ``fillOrder``, may still fill it on chain. Before, the watcher's fill
of an order out of the book changed nothing: the node said ``filled`` at the amount it
closed it with, the chain more (chaos52 seed 3: ``filled`` at 399,599,497 where the chain
filled 399,600,000)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, with_minimums
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask


async def test_a_fill_of_the_dust_an_order_was_closed_with_counts(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    cfg = with_minimums(node_config(c, tmp_path / "n.db"), c, weth=E18 // 1000, usdc=E6)
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(sell))[0] == 201
        c.exchange.fill_order(c.sender(BOB), sell, 299_900_000)  # all but 1/3000 of it
        await synced(node, c)
        first = c.exchange.order_info(sell.order).filled
        assert E18 // 10 - first < E18 // 1000  # (dust: below the node's WETH minimum)
        got = await meta(api, sell)
        assert (got["status"], got["filledMakerAmount"]) == ("filled", str(first))
        c.exchange.fill_order(c.sender(BOB), sell, 200_000)  # the dust, by a taker
        assert c.exchange.order_info(sell.order).filled == E18 // 10
        await synced(node, c)
        got = await meta(api, sell)
        # before: "filled" at the first fill's amount for good
        assert (got["status"], got["filledMakerAmount"]) == ("filled", str(E18 // 10))
