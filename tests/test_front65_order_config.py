"""``GET /v1/order_config`` at a front (front65): a wallet that asks it first and then posts
on the same keep-alive connection (``sdex.client.NodeClient``: ``sdex order``, the console)
keeps its connection at the front, so its orders are checked there. Before, the GET passed
the connection to the node for good and every order after it went through the node's loop.
The answer is the node's own (its body, its rate limit's headers). Real front process."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sdex.node.api import order_config_of
from sdex.node.appstate import FRONTS_KEY
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node


async def test_a_wallet_asking_the_config_first_keeps_its_connection_at_the_front(
    chain: Chain, tmp_path: Path
) -> None:
    cfg = node_config(chain, tmp_path / "n.db", fronts=1)
    async with running_node(cfg) as (node, api):
        assert api.app is not None
        fronts = api.app[FRONTS_KEY]
        one = aiohttp.TCPConnector(limit=1)  # (one keep-alive connection, as a wallet's)
        async with aiohttp.ClientSession(connector=one) as s:
            wallet = Api(s, api.base)
            async with s.get(api.base + "/v1/order_config") as r:
                assert r.status == 200
                assert await r.json() == order_config_of(node)
                assert "X-RateLimit-Remaining" in r.headers, r.headers  # (the node's limit)
            for i in range(2):
                signed = chain.sign(
                    chain.order(3, chain.weth, 10**16, chain.usdc, (20 + i) * 10**6)
                )
                code, body = await wallet.post_order(signed)
                assert code == 201, body
            health = fronts.health()
            assert health["verified"] == 2, health  # both checked at the front
            assert health["connections"] == 1, health  # the wallet's, still at the front
