"""chaos62: an order filled elsewhere while two of the node's own matches of it were in
flight, each failing. A failed match's diagnosis found the order filled beyond what the book
knew, but another match of it was still in flight, so the book kept its stale filled amount
(``_diagnose``: taken only with nothing in flight) and the watcher's word on it waited for
the same (``_recheck_settled``); the other side, not guilty, was matched against it again at
once, and that match was in flight when the other failure was diagnosed. The two kept each
other in flight: chaos52 seed 2 (node 1) sent 3,585 settlements that reverted, each mining a
block, until the chain's clock, pushed an hour on by them, expired the order, shown
``expired`` at the node's one fill (0.095) where the chain had 0.4999 filled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.sandwich import GWEI, node_on, send_tx
from tests.test_mirror import meta
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid

LEFT = 10**8
"""Wei of the ask the chain leaves: less than one USDC unit at the bids' price (4e8 wei),
so that neither of the node's matches can settle any of it (``ZeroFillAmount`` with the
ask incoming, ``PricesDoNotCross`` with it resting); the chain holds it ``FILLABLE``."""


def pending_txs(c: Chain) -> int:
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


def fill_all_but(c: Chain, sell: SignedOrder, left: int) -> None:
    """DAVE's bid for all of ``sell`` but ``left`` wei, matched against it on chain with a
    high tip (first in the next block): ``sell``'s filled amount without the node's part."""
    o = sell.order
    want = o.maker_amount - left
    d = c.sign(bid(c, DAVE, want, o.taker_amount), DAVE)
    data = c.exchange.abi.fn("matchOrders").encode(
        d.order.to_tuple(), d.signature, o.to_tuple(), sell.signature, 2**256 - 1
    )
    send_tx(c, DAVE, c.exchange.address, data, 500_000, 50 * GWEI)


async def node_sees_the_chain(api: Api, c: Chain, sell: SignedOrder) -> bool:
    return int((await meta(api, sell))["filledMakerAmount"]) == (
        c.exchange.order_info(sell.order).filled
    )


def fill_and_cancel(c: Chain, sell: SignedOrder) -> Callable[[], None]:
    """Pooled behind the node's two matches of ``sell``: a fill of all of it but E18 / 50
    (the first match's part), then its maker's cancel (recheck75 too)."""

    def pool() -> None:
        fill_all_but(c, sell, E18 // 10 - E18 // 50)
        data = c.exchange.abi.fn("cancelOrder").encode(sell.order.to_tuple())
        send_tx(c, ALICE, c.exchange.address, data, 200_000, 40 * GWEI)
        assert pending_txs(c) == 4

    return pool


async def two_in_flight(
    c: Chain, api: Api, sell: SignedOrder, elsewhere: Callable[[], None]
) -> None:
    """BOB's bid for half of ``sell`` (ALICE's ask) rests at the node; with mining paused,
    ``sell`` comes and matches it, then CAROL's bid for the other half matches the rest:
    two settlements of ``sell`` in flight, one a transaction. ``elsewhere`` sends what the
    chain does to ``sell`` first (high tips); one block is mined."""
    first = c.sign(bid(c, BOB, E18 // 20, 125 * E6), BOB)
    second = c.sign(bid(c, CAROL, E18 // 20, 125 * E6), CAROL)
    assert (await api.post_taken(first))[0] == 201
    c.rpc.call("evm_setAutomine", False)
    try:
        assert (await api.post_taken(sell))[0] == 201  # matched with `first`: sent
        await wait_for(lambda: pending_txs(c) == 1, timeout=20)
        assert (await api.post_taken(second))[0] == 201  # the rest of `sell`: sent too
        await wait_for(lambda: pending_txs(c) == 2, timeout=20)
        elsewhere()
        c.rpc.call("evm_mine")  # `elsewhere`, then both settlements, which revert
    finally:
        c.rpc.call("evm_setAutomine", True)


async def test_two_failing_matches_of_an_order_filled_elsewhere_do_not_loop(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    async with node_on(c, tmp_path) as (node, api):

        def fill() -> None:
            fill_all_but(c, sell, LEFT)
            assert pending_txs(c) == 3

        await two_in_flight(c, api, sell, fill)
        assert c.exchange.order_info(sell.order).filled == E18 // 10 - LEFT
        start = int(c.rpc.call("eth_blockNumber"), 16)
        # before: each failure's other side matched `sell` again at the book's stale amount,
        # sent and reverted, the two in turn, a block each, for as long as it ran
        await wait_for(lambda: node_sees_the_chain(api, c, sell), timeout=30)
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        mined = int(c.rpc.call("eth_blockNumber"), 16) - start
        assert mined <= 4, mined  # (a failure of each pair at most, not a loop)
        assert (await meta(api, sell))["status"] == "partially_filled"  # (as the chain: its
        # 1e8 wei left FILLABLE, which neither bid can trade: not matched again)


async def test_an_order_closed_by_the_chain_in_flight_takes_the_chains_filled_amount(
    chain: Chain, tmp_path: Path
) -> None:
    """The same two matches in flight; in the block before them DAVE fills a fifth of the
    ask and ALICE cancels it on chain. The first failure's diagnosis closed it ``cancelled``
    at the book's filled amount (0: the fill made elsewhere not taken while the other match
    was in flight), and nothing took the chain's in later: the watcher's verdict waited
    for the match in flight and then looked only at a closed order's *undone* fills
    (chaos52 seed 2, node 1: ``expired`` at its own fill, 0.095, the chain 0.4999)."""
    c = chain
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    async with node_on(c, tmp_path) as (node, api):
        await two_in_flight(c, api, sell, fill_and_cancel(c, sell))
        state = c.exchange.order_info(sell.order)
        assert state.filled == E18 // 50
        await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
        # before: "cancelled" at 0 for good, the chain 0.02 filled
        await wait_for(lambda: node_sees_the_chain(api, c, sell), timeout=30)
        assert (await meta(api, sell))["status"] == "cancelled"
