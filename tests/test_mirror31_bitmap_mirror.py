"""mirror31: the mirror judges a bitmap order itself while its (maker, nonce) is provably
untouched (``sdex.mirror.bitmaps``): no ``getOrderStates`` call at intake (attack29's fix
read the chain for every bitmap order: 253 calls for 3,500 orders, bench/node.py). The
chain is read again once its nonce may have moved: a fill or a cancel of an order of the
maker whose salt the node does not know, a fill of a known order with that nonce, or a
node resumed from a saved head without the watch saved with it (left32 saves it). Real
Hardhat, a real node."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sdex.mirror.bitmaps import BitmapWatch
from sdex.node.core import Node
from sdex.order import SignedOrder, bitmap_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced

MAKER, OTHER, TAKER = 8, 7, 9
WETH = 10**18


def test_a_nonce_is_judgeable_until_an_event_may_have_moved_it() -> None:
    w = BitmapWatch()
    a, b, c = (bytes([i]) * 32 for i in (1, 2, 3))
    assert w.judgeable(a, "0xM", 5) and w.judgeable(b, "0xm", 6)
    w.seen(a, "0xm")  # a known order of nonce 5 filled
    assert not w.judgeable(a, "0xm", 5) and not w.judgeable(c, "0xM", 5)
    assert w.judgeable(b, "0xm", 6) and w.judgeable(c, "0xn", 5)  # other nonce, other maker
    w.seen(bytes(32), "0xN")  # an order of 0xn whose salt is unknown
    assert not w.judgeable(c, "0xn", 9)
    w.resumed()
    assert not w.judgeable(b, "0xm", 6)
    w.restart()
    assert w.judgeable(b, "0xm", 6)


def calls(node: Node) -> int:
    return node.batcher.calls + node.peer_batcher.calls


def bitmap_orders(c: Chain) -> Callable[[int, int, int], SignedOrder]:
    """(maker, nonce, price) -> the maker's signed ask of 1 WETH for ``price`` USDC, its salt
    a bitmap salt of ``nonce``."""

    def order(maker: int, nonce: int, price: int) -> SignedOrder:
        return c.sign(c.order(maker, c.weth, WETH, c.usdc, price * 10**6, salt=bitmap_salt(nonce)))

    return order


async def test_untouched_bitmap_orders_are_judged_by_the_mirror_and_a_moved_nonce_by_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    order = bitmap_orders(c)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        c.rpc.call("evm_mine")  # (the mirror ready: an order before is taken as unknown)
        await synced(node, c)
        await wait_for(node.mirror_ready)  # (its watcher's say too: left32's fresh-clone run)
        first = order(MAKER, 1, 3000)  # (the maker's funds: one read, then the mirror's)
        assert (await api.post_taken(first))[0] == 201
        before = calls(node)
        for n in range(2, 12):
            code, body = await api.post_taken(order(MAKER, n, 3000 + n))
            assert code == 201 and body["status"] == "open", body
        assert calls(node) == before  # before: one read an order (or a batch)

        # a known order filled: its nonce is the chain's to judge, the others stay the mirror's
        c.exchange.fill_order(c.sender(TAKER), first, 3000 * 10**6)
        await synced(node, c)
        assert await api.status(first) == "filled"
        late = order(MAKER, 1, 3100)
        code, body = await api.post_order(late)
        assert code != 201 or body["status"] != "open", body
        before = calls(node)
        assert (await api.post_taken(order(MAKER, 40, 3000)))[0] == 201
        assert calls(node) == before

        # an order the node never held filled: every bitmap order of its maker by the chain
        unseen = order(OTHER, 3, 3000)
        posted = order(OTHER, 3, 3050)
        c.exchange.fill_order(c.sender(TAKER), unseen, 3000 * 10**6)
        await synced(node, c)
        before = calls(node)
        code, body = await api.post_order(posted)
        assert code != 201 or body["status"] != "open", body
        assert calls(node) > before

    async with running_node(cfg) as (node, api):  # resumed: the watch saved with the head
        c.rpc.call("evm_mine")  # (left32; before: blocks before it unseen, the chain read)
        await synced(node, c)
        await wait_for(node.mirror_ready)
        before = calls(node)
        assert (await api.post_taken(order(MAKER, 50, 3000)))[0] == 201
        assert calls(node) == before
        code, body = await api.post_taken(order(OTHER, 4, 3000))  # (tainted before: still)
        assert code == 201 and calls(node) > before, body
