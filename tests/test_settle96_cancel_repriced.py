"""settle96 (left43, "Settlement"; fix93's): a pooled settlement whose order the maker soft-
cancelled since it was sent (the node acknowledged the cancel) is not signed again at higher
fees when it is stuck: a transfer of nothing takes its nonce instead (``ReplacingLane._gone``:
its ``unsendables``, as before any send of its bytes again, ``NonceLane._keep_alive``;
doubt80), its matches failed "cancelled at its nonce"; the same for a start's adopted row.

Before, ``_replace`` re-priced it unjudged (a start's soft-cancelled row was left outside
``rejudged`` by ``unsettled.replace_pooled``; a live one was never judged): the replacement
landed and the chain filled the order whose cancel the node had acknowledged, a fill the
node's own act brought in (stuck under the base fee, the bytes would not have landed).

Real Hardhat mining only when told; a real node and SQLite store; the maker's signed soft
cancel posted to its API; then blocks over the settlement's fee cap (signed at a base fee walked
up to, 20 gwei: that jump within a few blocks' reach of it, fee93, as settle86's)."""

from __future__ import annotations

from pathlib import Path

from sdex.chain.rpc import quantity
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgutil import soft_cancel
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle86_stuck_rejudged import GWEI, over_cap

__all__ = ["pooling"]


async def pooled_match(
    c: Chain, node: Node, api: Api, maker: SignedOrder, taker: SignedOrder
) -> tuple[int, str, int]:
    """``maker`` taken, the chain mining only when told, ``taker`` matched with it: its
    settlement pooled. (The operator's nonce before it, its transaction, its fee cap.)"""
    operator = node.sender.address
    assert (await api.post_order(maker))[0] == 201
    c.rpc.call("evm_setAutomine", False)
    count = nonce(c.rpc, operator)
    code, body = await api.post_order(taker)
    assert code == 201 and len(body["matches"]) == 1, body
    await wait_for(lambda: nonce(c.rpc, operator, "pending") > count, timeout=30)
    [tx] = node.settler.in_flight
    cap = quantity(c.rpc.call("eth_getTransactionByHash", tx)["maxFeePerGas"])
    return count, tx, cap


async def test_a_stuck_settlement_of_a_soft_cancelled_order_is_not_repriced(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    with base_fee_kept(c):
        await fee_walked_to(c, 20 * GWEI)
        async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
            s = node.settler
            operator = node.sender.address
            count, tx, cap = await pooled_match(c, node, api, maker, taker)
            await soft_cancel(c, api, maker, ALICE)  # (acknowledged: the node's word)
            # (blocks over its cap: it stays pooled, 3 blocks make it stuck)
            # before: re-priced (``replaced``), mined, the cancelled order filled
            await wait_for(over_cap(c, cap + cap // 4, lambda: not s.in_flight), timeout=90)
            assert c.exchange.order_info(maker.order).filled == 0  # (before: E18)
            assert c.rpc.call("eth_getTransactionReceipt", tx) is None  # (its nonce taken)
            assert nonce(c.rpc, operator) == count + 1
            assert s.replaced == 0 and s.withheld_cancels == 1, (s.replaced, s.withheld_cancels)
            assert s.settled == 0, s.settled
