"""A late node's copy of a partly filled, soft-cancelled order (user50's trial).

Found from outside (three `sdex node` processes on a devnet, README's steps): a buy of 1.5
WETH at node 8001 was half filled on chain, then its maker soft-cancelled it. Node 8003,
started after that, took the cancelled order from its peer's soft cancels and held it
`cancelled` with `filledMakerAmount` 0: its page's "My orders" said Filled 0, its
`GET /v1/orders/{hash}` that nothing traded, and `sdex audit --node` flagged the earlier fill
as `fill_after_node_closed` ("the chain then filled 1000250000 more") although the node
first heard of the order after that fill. It now holds what the chain filled before."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.audit import audit_network
from tests.conftest import Chain
from tests.nodeutil import GOSSIP_SCALE, Api, Cluster, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


async def filled_at(api: Api, order_hash: str) -> int | None:
    code, rec = await api.get(f"/v1/orders/{order_hash}")
    return int(rec["metaData"]["filledMakerAmount"]) if code == 200 else None


async def test_a_late_node_holds_a_cancelled_orders_earlier_fill(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with Cluster(c, tmp_path, [[]], gossip_scale=GOSSIP_SCALE) as net:
        a = net.api(0)
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await a.post_order(half))[0] == 201
        taker = c.sign(bid(c, BOB, E18, 1000 * E6))  # takes 1 WETH of it
        assert (await a.post_order(taker))[0] == 201

        async def mined() -> bool:
            return c.exchange.order_info(half.order).filled == E18

        await wait_for(mined, timeout=60)
        await cancel_at(a, c, half, ALICE)
        still_open = c.sign(ask(c, CAROL, E18, 5000 * E6))  # shows the bootstrap is done
        assert (await a.post_order(still_open))[0] == 201

        late = net.add_node(peer_urls=[net.urls[0]])  # joins after the fill and the cancel
        await net.wait_healthy(late)
        b = net.api(late)

        async def booted() -> bool:
            seen = (await status_at(b, still_open), await status_at(b, half))
            return seen == ("open", "cancelled")

        await wait_for(booted, timeout=60)
        assert await filled_at(a, half.hash_hex) == E18
        assert await filled_at(b, half.hash_hex) == E18  # before: 0

        urls = [net.urls[0], net.urls[late]]
        report = await asyncio.to_thread(audit_network, c.deployment, urls, sync_timeout=5.0)
        assert "fill_after_node_closed" not in report.kinds(), report.to_json()  # before: 1
        assert await filled_at(b, half.hash_hex) == E18  # (its watcher at the head: kept)
