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


async def test_two_failing_matches_of_an_order_filled_elsewhere_do_not_loop(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    first = c.sign(bid(c, BOB, E18 // 20, 125 * E6), BOB)
    sell = c.sign(ask(c, ALICE, E18 // 10, 250 * E6), ALICE)
    second = c.sign(bid(c, CAROL, E18 // 20, 125 * E6), CAROL)
    async with node_on(c, tmp_path) as (node, api):
        assert (await api.post_order(first))[0] == 201
        c.rpc.call("evm_setAutomine", False)
        try:
            assert (await api.post_order(sell))[0] == 201  # matched with `first`: sent
            await wait_for(lambda: pending_txs(c) == 1, timeout=20)
            assert (await api.post_order(second))[0] == 201  # the rest of `sell`: sent too
            await wait_for(lambda: pending_txs(c) == 2, timeout=20)
            fill_all_but(c, sell, LEFT)
            await wait_for(lambda: pending_txs(c) == 3, timeout=20)
            c.rpc.call("evm_mine")  # DAVE's fill, then both settlements, which revert
        finally:
            c.rpc.call("evm_setAutomine", True)
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
