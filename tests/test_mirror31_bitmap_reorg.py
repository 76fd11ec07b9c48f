"""mirror31: a bitmap order closed ``filled`` because its maker's same-nonce order was filled
(``sdex.order.bitmap_salt``: the two share their bits on chain) reopens when a reorg undoes
that fill. Before, a reorg judged again only the orders of the undone fills' own hashes: the
sibling stayed ``filled`` while the chain held it whole and fillable. Real Hardhat
(``evm_snapshot``/``evm_revert``), a real node on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.order import bitmap_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import forgotten, reorged
from tests.test_mirror import synced

MAKER, TAKER = 8, 9
WETH = 10**18
NONCE = 91


@pytest.mark.parametrize("held", [True, False], ids=["sibling_held", "sibling_unknown"])
@pytest.mark.parametrize("then", ["stays", "evicted"])
async def test_a_bitmap_order_closed_by_its_siblings_fill_reopens_when_a_reorg_undoes_it(
    chain: Chain, tmp_path: Path, held: bool, then: str
) -> None:
    """``held``: the filled sibling A was posted to the node too (else never seen but in its
    ``OrderFilled``). ``evicted``: B's closed record left memory before the reorg."""
    c = chain
    a = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3000 * 10**6, salt=bitmap_salt(NONCE)))
    b = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3100 * 10**6, salt=bitmap_salt(NONCE)))
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2 if then == "evicted" else 10.0)
    async with running_node(cfg) as (node, api):
        for so in (b, a) if held else (b,):
            code, body = await api.post_order(so)
            assert code == 201 and body["status"] == "open", body
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(TAKER), a, 3000 * 10**6)
        assert c.exchange.order_info(b.order).filled == WETH

        async def b_is(status: str) -> bool:
            return await api.status(b) == status

        await wait_for(lambda: b_is("filled"), timeout=20)
        if then == "evicted":
            await forgotten(node, b)
        await reorged(c, node, snap)
        assert c.exchange.order_info(b.order).filled == 0  # the chain: B whole again
        await wait_for(lambda: b_is("open"), timeout=20)  # before: "filled" for good
