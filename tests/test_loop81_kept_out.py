"""loop81: the orders kept out of matching because the mirror has them gone on chain in a block
the node has not applied (``sdex.node.gone``, loop80) are kept out of a wallet's new order's
matching too, and every one of them stays out, however many there are.

Before: a wallet's new order crossing a kept-out order was matched against it at its arrival
(the engine asked no ``may_match`` then), the match withdrawn before its signature, a
"settlement (not sent)" line each; and past the bound (4,096 kept out) the oldest left, was
matched again by the uncross loop, withdrawn, kept out again in the place of the next oldest,
and so on: loop80's loop again, thousands of withdrawals a second.

Real Hardhat, a real node on loopback, the cancels' blocks held unapplied by the node's store
locked from another connection (loop80's ``Hook``: at the crossing's signature)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_book import MAKERS, T0, new_book
from tests.test_book import ask as book_ask
from tests.test_book import bid as book_bid
from tests.test_loop80_gone_unapplied import (
    Hook,
    counted,
    hooked_proxy,
    pair,
    withdrawn_while_unapplied,
)
from tests.test_node import ALICE, BOB, E18, ask

NEW_ORDERS = 3
"""Wallet orders posted crossing a kept-out order."""
KEPT = "is gone on chain in a block not applied yet"
"""In the node's line for an order it keeps out."""


def operator(c: Chain) -> str:
    return c.address(19)  # (``node_config``'s operator)


async def posted(api: Api, node: Node, orders: list[SignedOrder]) -> list[asyncio.Task[object]]:
    """``orders`` posted; once each is booked (its answer waits for the locked store's
    commit: the posts are left running)."""
    posts: list[asyncio.Task[object]] = [asyncio.ensure_future(api.post_order(so)) for so in orders]
    await wait_for(lambda: all(node.book.find(so.hash) is not None for so in orders), 60)
    return posts


async def test_a_new_order_is_not_matched_against_an_order_kept_out(
    chain: Chain, tmp_path: Path
) -> None:
    """Asks posted while the bid they cross is kept out (cancelled in a block the node has
    not applied) rest: no match, no withdrawal (before: each matched against it at arrival
    while it was not in flight, withdrawn, a "settlement (not sent)" line: 2 of the 3 asks,
    failed 3 of 3); once the block is applied the bid is cancelled and they stay open."""
    c = chain
    db = tmp_path / "n.db"
    resting, crossing = pair(c)
    cancel = lambda: c.exchange.cancel_order(c.sender(BOB), resting.order)  # noqa: E731
    hook = Hook(operator(c), db, cancel, lambda: c.rpc.call("evm_snapshot"))
    price = crossing.order.taker_amount
    asks = [c.sign(ask(c, ALICE, E18 // 10, price), ALICE) for _ in range(NEW_ORDERS)]
    with hooked_proxy(c.rpc.url, hook) as proxy, counted() as lines:
        cfg = node_config(c, db, rpc=proxy, new_heads=False, poll_interval=0.2)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=60)
            await wait_for(node.replayed, timeout=60)
            assert (await api.post_order(resting))[0] == 201
            settler = node.settler
            try:
                await withdrawn_while_unapplied(c, node, api, hook, resting, crossing, lines)
                assert resting.hash in node.gone_orders.orders
                w0, l0, settled0 = settler.withdrawn_matches, lines.not_sent, settler.settled
                posts = await posted(api, node, asks)
                # each ask, matched, is withdrawn (the block's hold is long over): bounded
                await wait_for(lambda: settler.idle.is_set(), timeout=60)
                assert node.watcher.unapplied.applied < quantity(c.rpc.call("eth_blockNumber"))
                withdrawn = settler.withdrawn_matches - w0
                assert (withdrawn, lines.not_sent - l0) == (0, 0)  # before: (2, 2)
                assert settler.settled == settled0
                for so in asks:  # resting, nothing of it in flight
                    st = node.book.get(so.hash)
                    assert st is not None and st.pending == 0 and st.filled == 0
            finally:
                hook.unlock()

            async def cancelled() -> bool:
                return await api.status(resting) == "cancelled"

            await wait_for(cancelled, timeout=60)
            await asyncio.gather(*posts, return_exceptions=True)
            for so in asks:
                assert await api.status(so) == "open"
            await wait_for(lambda: settler.idle.is_set(), timeout=30)
            assert settler.settled == settled0


@pytest.mark.parametrize(
    ("tif", "outcome", "left"),
    [
        (TimeInForce.GTC, Outcome.RESTED, 5),  # (the rest crosses the skipped bid: it rests)
        (TimeInForce.IOC, Outcome.DROPPED, 5),
        (TimeInForce.FOK, Outcome.KILLED, 15),  # (not filled in full: nothing traded)
    ],
)
def test_a_new_order_is_not_matched_against_orders_skipped(
    tif: TimeInForce, outcome: Outcome, left: int
) -> None:
    """The engine's ``submit`` passes the resting orders in ``skip`` (they stay, untouched,
    in their place) and trades with the others in price-time order."""
    book = new_book()
    engine = MatchingEngine(book)
    skipped, older = book_bid(MAKERS[0], 10, 30), book_bid(MAKERS[1], 10, 30)
    worse = book_bid(MAKERS[2], 10, 10)  # (does not cross the ask)
    for so in (skipped, older, worse):
        assert engine.submit(so, now=T0).outcome is Outcome.RESTED
    result = engine.submit(book_ask(MAKERS[3], 15, 45), T0, tif, 0, 0, {skipped.hash})
    assert result.outcome is outcome
    matched = [(m.resting.hash, m.amounts.left_filled) for m in result.matches]
    if tif is not TimeInForce.FOK:
        assert matched == [(older.hash, 30)]
    assert result.remaining == left
    st_ = book.entry(skipped.hash)
    assert st_.resting and st_.closed is None and st_.fillable == 30 and st_.pending == 0
