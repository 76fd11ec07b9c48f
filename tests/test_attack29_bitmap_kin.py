"""attack29: a bitmap order (``sdex.order.bitmap_salt``) whose nonce another order of its
maker filled is not held open.

Bitmap orders of one maker with the same nonce share their two bits on chain: filling one
whole makes every other read FILLED, with no ``OrderFilled`` event of their own. The mirror
judged an order by its own hash's events, so (live, three nodes): a maker posted B, then
filled A (same nonce, never posted) with a ``fillOrder`` of its own; B stayed ``open``
with all of its amount fillable on all three nodes (``sdex audit``: 3
``node_keeps_closed_order``, "the node shows it open; the chain says filled"), minutes on;
and a new order C with that nonce was accepted ``open`` by a node while the chain already
said FILLED. One nonce so shows any number of phantom orders on every node, until a node
tries to match one (its pre-flight fails: that node alone drops it).
"""

from __future__ import annotations

from pathlib import Path

from sdex.order import bitmap_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

MAKER, TAKER = 8, 9
WETH = 10**18
NONCE = 77


async def test_a_bitmap_order_whose_nonce_was_filled_is_not_held_open(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    a = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3000 * 10**6, salt=bitmap_salt(NONCE)))
    b = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3100 * 10**6, salt=bitmap_salt(NONCE)))
    other = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3200 * 10**6, salt=bitmap_salt(NONCE + 1)))
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        for so in (b, other):
            code, body = await api.post_order(so)
            assert code == 201 and body["status"] == "open", body
        c.exchange.fill_order(c.sender(TAKER), a, 3000 * 10**6)  # A: never posted
        assert c.exchange.order_info(b.order).filled == WETH  # the chain: B is FILLED

        async def b_closed() -> bool:
            return await api.status(b) == "filled"

        await wait_for(b_closed, timeout=20)  # before: "open" for good
        assert await api.status(other) == "open"  # (another nonce: untouched)

        # A new order with the spent nonce: the chain says FILLED already
        late = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3300 * 10**6, salt=bitmap_salt(NONCE)))
        assert c.exchange.order_info(late.order).filled == WETH
        code, body = await api.post_order(late)
        assert code != 201 or body["status"] != "open", body  # before: 201 "open"
