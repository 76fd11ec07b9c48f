"""settle74: an order held by two matches at once, one in flight from before a reorg and one
made after it, each released or confirmed by the order's hash, frees its own amount only.

The book holds a match's amount as a sum per order (``pending``), released by hash and the
match's own amount (``Settling.release``): a release frees another match's hold only if that
sum ever fell below the holds of the matches still out. Real Hardhat (``evm_snapshot`` /
``evm_revert``), a real node: Alice's ask of 0.15 WETH, 0.05 filled on chain after a
snapshot, Bob's first bid (0.04) matched (in flight), a reorg undoes the 0.05, Bob's second
bid (0.05) matched after it; the first fails unsent, or settles, and the second settles: the
book holds exactly the second's amount between the two, and ends as the chain has it."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.matching import TimeInForce
from sdex.settlement.outcome import Outcome, SettledMatch
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.reorgutil import reorged
from tests.sandwich import node_on
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18

SELL = 3 * E18 // 20  # 0.15 WETH at 2,500 USDC
ELSEWHERE, FIRST, SECOND = E18 // 20, 4 * E18 // 100, E18 // 20


@pytest.mark.parametrize("first_fails", [True, False])
async def test_two_holds_of_one_order_across_a_reorg_each_free_their_own(
    chain: Chain, tmp_path: Path, first_fails: bool
) -> None:
    c = chain
    c.weth.approve(c.sender(ALICE), c.exchange.address, 2**256 - 1)
    c.usdc.approve(c.sender(BOB), c.exchange.address, 2**256 - 1)
    sell = c.sign(c.order(ALICE, c.weth, SELL, c.usdc, 375 * E6))
    async with node_on(c, tmp_path) as (node, api):
        assert (await api.post_order(sell))[0] == 201
        await synced(node, c)
        snap = str(c.rpc.call("evm_snapshot"))
        c.exchange.fill_order(c.sender(BOB), sell, 125 * E6)  # 0.05, on chain
        await synced(node, c)
        assert (await meta(api, sell))["filledMakerAmount"] == str(ELSEWHERE)
        node._set_funds(c.address(BOB), c.usdc.address, 10**12)
        first = c.sign(c.order(BOB, c.usdc, 100 * E6, c.weth, FIRST))
        (a,) = node.engine.submit(first, node.chain_time(), TimeInForce.IOC).matches
        await reorged(c, node, snap)  # (the 0.05 undone; the book waits for ``a``)
        assert c.exchange.order_info(sell.order).filled == 0
        second = c.sign(c.order(BOB, c.usdc, 125 * E6, c.weth, SECOND))
        (b,) = node.engine.submit(second, node.chain_time(), TimeInForce.IOC).matches
        e = node.book.find(sell.hash)
        assert e is not None and e.pending == FIRST + SECOND
        if first_fails:
            await node._on_settled(
                [SettledMatch(a, Outcome.FAILED, None, None, "not sent", unsent=True)]
            )
        else:
            node.settler.submit((a,))
            await wait_for(lambda: e.pending == SECOND, timeout=30)
        assert e.pending == SECOND  # (the second's hold, and only it)
        node.settler.submit((b,))
        settled = SECOND + (0 if first_fails else FIRST)

        async def as_the_chain() -> bool:
            on_chain = c.exchange.order_info(sell.order).filled
            got = await meta(api, sell)
            book = node.book.find(sell.hash)
            return (
                on_chain == settled
                and got["filledMakerAmount"] == str(settled)
                and book is not None
                and (book.filled, book.pending, book.fillable) == (settled, 0, SELL - settled)
            )

        await wait_for(as_the_chain, timeout=30)
