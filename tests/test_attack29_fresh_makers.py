"""attack29: orders refused for want of funds leave a bounded trace in the node's mirror.

Live: 23,000 orders, each signed by a fresh key that holds nothing, posted by one client at
~460/s, were all refused (400 ``UNFUNDED``), yet each left its (maker, token) account in
the mirror's funds (``/health`` ``chainMirror.mirror.accounts`` 20 -> 23,020, RSS +8 MB,
~400 bytes an account, never dropped): memory grown without bound at no cost but signing.
Now the mirror keeps at most ``Mirror.max_broke`` such accounts (the oldest forgotten: its
next order is read from the chain again).
"""

from __future__ import annotations

import os
from pathlib import Path

from sdex.order import ZERO_ADDRESS, Order, address_of, sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

SENT = 64
BOUND = 16


async def test_refused_strangers_are_not_kept_in_the_mirror(chain: Chain, tmp_path: Path) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        node.mirror.max_broke = BOUND
        before = len(node.mirror.funds)
        expiry = c.now() + 3600
        for i in range(SENT):
            key = os.urandom(32)
            o = Order(
                address_of(key), ZERO_ADDRESS, c.weth.address, c.usdc.address,
                10**15, 3 * 10**6, ZERO_ADDRESS, 0, expiry, i + 1,
            )  # fmt: skip
            code, body = await api.post_order(sign_order(o, c.domain, key))
            assert code == 400 and body["rejection"] == "UNFUNDED", body
        assert len(node.mirror.funds) - before == BOUND  # before: SENT

        # a funded maker's account is still learned from its first order's read
        funded = c.sign(c.order(3, c.weth, 10**15, c.usdc, 3 * 10**6))
        code, body = await api.post_order(funded)
        assert code == 201, body
        assert (c.address(3), c.weth.address) in node.mirror.funds
