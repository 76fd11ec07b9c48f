"""attack27: a wallet order matched in full at arrival whose settlement the chain filled only
in part rests with the rest, and is gossiped like any resting order.

Found by ``sdex audit`` after the attacks (``books_disagree``): a buy posted to one node was
matched in full against a peer's sell (so not announced: nothing of it rested); the sell
was partly filled elsewhere before the settlement was mined, the chain filled the buy 75%,
and its rest rested on that node alone: never announced, no peer ever saw it. Here the other
fill is a taker's own ``fillOrder`` mined first (a higher tip, blocks mined on demand)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.tx import fees_of
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

ALICE, BOB, CAROL = 1, 2, 3
WETH = 10**18


def _mempool(c: Chain) -> int:
    return len(c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"])


async def post_settled_short(c: Chain, api: Api, buy: SignedOrder, sell: SignedOrder) -> None:
    """Post ``buy`` (matched in full against ``sell``: nothing of it rests) with blocks
    mined on demand; once its settlement waits in the pool, a taker's ``fillOrder`` of a
    quarter of ``sell`` with a higher tip goes first in the next block, so the chain fills
    the buy 75%."""
    c.rpc.call("evm_setAutomine", False)
    try:
        code, body = await api.post_taken(buy)
        assert code == 201, body
        await wait_for(lambda: _mempool(c) > 0)  # (the node's settlement, waiting for a block)
        carol = c.sender(CAROL)
        data = c.exchange.abi.fn("fillOrder").encode(
            sell.order.to_tuple(), sell.signature, 500 * 10**6
        )
        base_fee = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        carol.broadcast(carol.sign(c.exchange.address, data, 400_000, fees=(base_fee, 10**11)))
        c.rpc.call("evm_mine")
    finally:
        c.rpc.call("evm_setAutomine", True)


async def rests_short(api: Api, buy: SignedOrder) -> None:
    """Wait until ``api``'s node shows ``buy`` resting with the quarter the chain left."""

    async def rests() -> bool:
        code, rec = await api.get(f"/v1/orders/{buy.hash_hex}")
        meta = rec["metaData"]
        return bool(
            code == 200
            and meta["status"] == "partially_filled"
            and meta["pendingMakerAmount"] == "0"
            and meta["remainingFillableMakerAmount"] == str(500 * 10**6)
        )

    await wait_for(rests)


async def test_the_rest_of_a_short_settled_wallet_order_is_gossiped(
    chain: Chain, tmp_path: Path
) -> None:
    """Both orders this node's wallets': the buy's rest is announced (it was before too:
    the peer's case below is the one that failed)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        sell = c.sign(c.order(ALICE, c.weth, WETH, c.usdc, 2000 * 10**6))
        assert (await api.post_taken(sell))[0] == 201
        buy = c.sign(c.order(BOB, c.usdc, 2000 * 10**6, c.weth, WETH))
        await post_settled_short(c, api, buy, sell)
        await rests_short(api, buy)
        gossiped = {r.signed.hash for r in node.registry.gossiped_records()}
        assert buy.hash in gossiped


async def test_the_rest_of_a_short_settled_order_against_a_peers_reaches_the_peer(
    chain: Chain, tmp_path: Path
) -> None:
    """As above, the sell a peer's: the buy's rest reaches the peer (before: it rested on
    the buy's node alone, ``sdex audit``'s ``books_disagree``)."""
    c = chain
    cfg = node_config(c, tmp_path / "a.db")
    other = node_config(c, tmp_path / "b.db", operator=18)
    async with (
        running_node(cfg) as (a, api_a),
        running_node(replace(other, peers=(api_a.base,))) as (_b, api_b),  # (the port a bound)
    ):
        await wait_for(lambda: a.gossip is not None and len(a.gossip.peers) > 0, timeout=20)
        sell = c.sign(c.order(ALICE, c.weth, WETH, c.usdc, 2000 * 10**6))
        assert (await api_a.post_taken(sell))[0] == 201

        async def held_by_b() -> bool:
            return (await api_b.get(f"/v1/orders/{sell.hash_hex}"))[0] == 200

        await wait_for(held_by_b, timeout=20)
        buy = c.sign(c.order(BOB, c.usdc, 2000 * 10**6, c.weth, WETH))
        await post_settled_short(c, api_b, buy, sell)
        await rests_short(api_b, buy)

        async def held_by_a() -> bool:
            return (await api_a.get(f"/v1/orders/{buy.hash_hex}"))[0] == 200

        await wait_for(held_by_a, timeout=15)  # (anti-entropy: a round a second)
