"""attack29: an order a node closes because its own settlement found it filled carries the
chain's filled amount, and is open again when the chain rewinds that fill away.

Live: three nodes, 20 crossing pairs posted round-robin, two nodes matching the same orders.
Orders whose settlement reverted on a node because a peer's settlement filled them first were
closed there ``filled`` with ``filledMakerAmount`` 0 and ``remainingMakerAmount`` the whole
order (reason ``settlement failed: filled``): 8 such records on one node, 7 on another, while
the chain and the winning node said 10^15 filled; the fill event the watcher applied later
changed nothing on a closed record, and it stayed so after an ``evm_revert`` and the orders'
settlement again. Here the other fill is a taker's own ``fillOrder`` mined first (a higher
tip, blocks mined on demand), then the chain is rewound to before it.
"""

from __future__ import annotations

from pathlib import Path

from sdex.chain.tx import fees_of
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

ALICE, BOB, CAROL = 1, 2, 3
WETH = 10**18
USDC = 2000 * 10**6


def _mempool(c: Chain) -> int:
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


async def _meta(api: Api, order_hash: str) -> dict[str, str]:
    code, rec = await api.get(f"/v1/orders/{order_hash}")
    assert code == 200, rec
    return dict(rec["metaData"])


async def test_an_order_a_failed_settlement_closes_as_filled_has_the_chains_fill(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        sell = c.sign(c.order(ALICE, c.weth, WETH, c.usdc, USDC))
        assert (await api.post_taken(sell))[0] == 201
        snap = str(c.rpc.call("evm_snapshot"))  # before anything fills the sell
        buy = c.sign(c.order(BOB, c.usdc, USDC, c.weth, WETH))
        c.rpc.call("evm_setAutomine", False)
        try:
            code, body = await api.post_taken(buy)
            assert code == 201, body
            await wait_for(lambda: _mempool(c) > 0)  # (the node's settlement, waiting)
            carol = c.sender(CAROL)
            data = c.exchange.abi.fn("fillOrder").encode(
                sell.order.to_tuple(), sell.signature, USDC
            )
            base_fee = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
            carol.broadcast(carol.sign(c.exchange.address, data, 400_000, fees=(base_fee, 10**11)))
            c.rpc.call("evm_mine")  # Carol's fill first; the node's match reverts
        finally:
            c.rpc.call("evm_setAutomine", True)

        async def closed_and_resting() -> bool:
            s, b = await _meta(api, sell.hash_hex), await _meta(api, buy.hash_hex)
            return s["status"] == "filled" and s["reason"] != "" and b["status"] == "open"

        await wait_for(closed_and_resting)
        assert c.exchange.order_info(sell.order).filled == WETH
        # before: "filled" with filledMakerAmount 0 (and remainingMakerAmount all of it), for
        # good: the watcher's event of Carol's fill changed nothing on a closed order
        assert (await _meta(api, sell.hash_hex))["filledMakerAmount"] == str(WETH)

        # The chain rewinds to before Carol's fill: the sell is fillable again and crosses
        # the resting buy, so the node matches them again and settles.
        assert c.rpc.call("evm_revert", snap) is True
        c.rpc.call("evm_mine")
        assert c.exchange.order_info(sell.order).filled == 0

        async def settled_again() -> bool:
            return c.exchange.order_info(buy.order).filled == USDC

        # before: the sell stayed "filled" (0 filled) on the node, the buy rested alone
        await wait_for(settled_again, timeout=30)

        async def both_filled() -> bool:
            s, b = await _meta(api, sell.hash_hex), await _meta(api, buy.hash_hex)
            return (s["status"], s["filledMakerAmount"], b["status"], b["filledMakerAmount"]) == (
                "filled",
                str(WETH),
                "filled",
                str(USDC),
            )

        await wait_for(both_filled, timeout=30)
