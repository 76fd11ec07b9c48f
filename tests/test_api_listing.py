"""The API's listings (``GET /v1/orders``, ``GET /v1/fills``) are read on the store's
writer thread behind the writes queued before them: while they wait, the node's event
loop serves on (a listing that scans a large table stops no intake, gossip or health)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node


async def test_listings_wait_for_the_store_while_the_node_serves_on(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):

        async def listed(path: str) -> dict[str, Any]:
            async with api.session.get(api.base + path) as r:
                assert r.status == 200, path
                body: dict[str, Any] = await r.json()
                return body

        writer = node.store._writer
        gate = threading.Event()
        busy = writer.submit(lambda db: gate.wait(5))  # the writer is busy until the gate
        orders = asyncio.ensure_future(listed("/v1/orders?perPage=10"))
        fills = asyncio.ensure_future(listed("/v1/fills"))
        try:
            for _ in range(500):  # both reads queued behind the busy job (bounded)
                if writer._queue.qsize() >= 2 or orders.done():
                    break
                await asyncio.sleep(0.01)
            async with api.session.get(api.base + "/health") as r:
                assert r.status == 200
            assert not orders.done() and not fills.done()  # answered while both wait
        finally:
            gate.set()
        assert busy.result(timeout=5) is True
        got_orders, got_fills = await asyncio.wait_for(asyncio.gather(orders, fills), 10)
        assert (got_orders["total"], got_orders["records"]) == (0, [])
        assert (got_fills["total"], got_fills["records"]) == (0, [])
