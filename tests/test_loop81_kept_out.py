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
import logging
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.chain.rpc import quantity
from sdex.matching import MatchingEngine, Outcome, TimeInForce
from sdex.node.core import Node
from sdex.node.gone import GoneOrders
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_book import MAKERS, T0, new_book
from tests.test_book import ask as book_ask
from tests.test_book import bid as book_bid
from tests.test_loop80_gone_unapplied import (
    WINDOW,
    Hook,
    counted,
    hooked_proxy,
    resting_behind_hook,
    withdrawn_while_unapplied,
)
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

NEW_ORDERS = 3
"""Wallet orders posted crossing a kept-out order."""
KEPT = "is gone on chain in a block not applied yet"
"""In the node's line for an order it keeps out."""


def operator(c: Chain) -> str:
    return c.address(19)  # (``node_config``'s operator)


async def kept_out(api: Api) -> object:
    """``/health``'s ``chainMirror.keptOut`` (served with a 503 while the store is locked:
    the watcher fails to save its blocks)."""
    _, body = await api.get("/health")
    return body["chainMirror"]["keptOut"]


async def posted(api: Api, node: Node, orders: list[SignedOrder]) -> list[asyncio.Task[object]]:
    """``orders`` posted; once each is booked (its answer waits for the locked store's
    commit: the posts are left running)."""
    posts: list[asyncio.Task[object]] = [asyncio.ensure_future(api.post_order(so)) for so in orders]
    try:
        await wait_for(lambda: all(node.book.find(so.hash) is not None for so in orders), 60)
    except AssertionError:
        said = [p.result() if p.done() and not p.exception() else p for p in posts]
        raise AssertionError(f"not all booked; the posts: {said}") from None
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
    async with resting_behind_hook(c, db) as k:
        node, api, hook = k.node, k.api, k.hook
        resting, crossing, lines = k.resting, k.crossing, k.lines
        price = crossing.order.taker_amount
        asks = [c.sign(ask(c, ALICE, E18 // 10, price), ALICE) for _ in range(NEW_ORDERS)]
        settler = node.settler
        try:
            # (no window: the asks posted at once. The watcher's save of the cancel's block
            # waits on the locked store behind the refused record and is refused ~5 s
            # later: from then the node answers wallet orders 503 CHAIN_UNAVAILABLE, its
            # chain ``failing``; after loop80's 4 s window the asks met that 2 of 8 runs)
            await withdrawn_while_unapplied(c, node, api, hook, resting, crossing, lines, 0.0)
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
            assert await kept_out(api) == {"orders": 1, "total": 1}  # (/health's count)
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
        assert await kept_out(api) == {"orders": 0, "total": 1}  # (its block applied)


class Kept(logging.Handler):
    """The node's lines that say it keeps an order out."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines = 0

    def emit(self, record: logging.LogRecord) -> None:
        if KEPT in record.getMessage():
            self.lines += 1


async def test_past_the_bound_every_order_gone_stays_out(chain: Chain, tmp_path: Path) -> None:
    """Two bids cancelled in blocks the node has not applied, the node's bound on orders kept
    out at 1, an ask crossing both: both stay out, no withdrawal after theirs, one line each
    (before: the one kept out in the other's place was matched again at once, withdrawn,
    kept out in turn: thousands of withdrawals and lines in the window, failed 3 of 3)."""
    c = chain
    db = tmp_path / "n.db"
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    bids = [c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB) for _ in range(2)]
    crossing = c.sign(ask(c, ALICE, E18 // 5, 2 * (price - 1) * E6 // 10), ALICE)

    def cancel() -> None:
        for so in bids:
            c.exchange.cancel_order(c.sender(BOB), so.order)

    hook = Hook(operator(c), db, cancel, lambda: c.rpc.call("evm_snapshot"))
    kept = Kept()
    logging.getLogger("sdex").addHandler(kept)
    try:
        with hooked_proxy(c.rpc.url, hook) as proxy, counted() as lines:
            cfg = node_config(c, db, rpc=proxy, new_heads=False, poll_interval=0.2)
            async with running_node(cfg) as (node, api):
                await wait_for(node.mirror_ready, timeout=60)
                await wait_for(node.replayed, timeout=60)
                node.gone_orders.bound = 1  # (4,096 in a node: the same past it)
                for so in bids:
                    assert (await api.post_order(so))[0] == 201
                try:
                    settler = node.settler
                    node.sender.forget_nonce()  # (read again at the signature: the hook's)
                    hook.row = crossing.hash_hex
                    hook.armed.set()
                    assert (await api.post_order(crossing))[0] == 201
                    await wait_for(hook.done.is_set, timeout=30)
                    await wait_for(lambda: all(node.gone_on_chain(so) for so in bids), 30)
                    await wait_for(lambda: node.gone_orders.kept_out >= 2, timeout=60)
                    w0, l0, k0 = settler.withdrawn_matches, lines.not_sent, kept.lines
                    began = time.monotonic()
                    while time.monotonic() - began < WINDOW:  # (the blocks still unapplied)
                        head = quantity(c.rpc.call("eth_blockNumber"))
                        assert node.watcher.unapplied.applied < head
                        await asyncio.sleep(0.1)
                    again = settler.withdrawn_matches - w0, lines.not_sent - l0, kept.lines - k0
                    assert again == (0, 0, 0), again  # before: thousands of each
                    assert kept.lines == 2 and node.gone_orders.kept_out == 2
                    assert all(node.gone_orders.out(so.hash) for so in bids)
                finally:
                    hook.unlock()

                async def cancelled() -> bool:
                    return all([await api.status(so) == "cancelled" for so in bids])

                await wait_for(cancelled, timeout=60)
                assert await api.status(crossing) == "open"
                # (let go at /health's first look after their blocks were applied)
                assert await kept_out(api) == {"orders": 0, "total": 2}
    finally:
        logging.getLogger("sdex").removeHandler(kept)


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


def test_the_count_kept_out_lets_go_at_each_block_applied() -> None:
    """``/health``'s ``keptOut``: an order whose block the node applied (the book no longer
    offers it) is let go at the first look after the applied block moves, not counted."""
    orders = [book_bid(MAKERS[0], 10 + i, 30) for i in range(3)]
    offered = {so.hash for so in orders}
    applied = [7]
    out = GoneOrders(lambda so: True, offered.__contains__, applied=lambda: applied[0])
    for so in orders:
        assert out.add(so)
    assert out.to_json() == {"orders": 3, "total": 3}
    offered.discard(orders[0].hash)  # (its block applied: the book closed it)
    applied[0] = 8
    assert out.to_json() == {"orders": 2, "total": 3}
    assert [orders[1].hash, orders[2].hash] == list(out.orders)


ORDERS = [book_bid(MAKERS[0], 10 + i, 30) for i in range(12)]


@settings(max_examples=200, deadline=None)
@given(
    floor=st.integers(1, 4),
    steps=st.lists(
        st.tuples(st.sampled_from(["add", "unoffer", "offer", "ungone"]), st.integers(0, 11)),
        max_size=60,
    ),
)
def test_no_order_offered_and_gone_is_ever_let_go(floor: int, steps: list[tuple[str, int]]) -> None:
    """Whatever the adds and the book's and mirror's changes: an order added, offered and
    gone since is kept (out); the orders kept are never more than ``bound``, which is at
    most ``floor`` or twice as many as were kept (loop81: past the bound the oldest left)."""
    offered = set(range(12))
    gone = set(range(12))
    index = {so.hash: i for i, so in enumerate(ORDERS)}
    out = GoneOrders(lambda so: index[so.hash] in gone, lambda h: index[h] in offered, floor)
    held: set[int] = set()  # (added, offered and gone since)
    for op, i in steps:
        if op == "add":
            if out.add(ORDERS[i]) or (i in offered and i in gone):
                held.add(i)
        elif op == "unoffer":
            offered.discard(i)
            held.discard(i)
        elif op == "offer":
            offered.add(i)
        else:
            gone.discard(i)
            held.discard(i)
        assert held <= {index[h] for h in out.orders}
        assert len(out.orders) <= out.bound <= max(floor, 2 * len(ORDERS))
    assert all(out.out(ORDERS[i].hash) for i in held)
