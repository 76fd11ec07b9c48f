"""The API's listings (``GET /v1/orders``, ``GET /v1/fills``) read what is committed on a
read-only connection of their own in a worker thread: they wait for no write queued on the
store's writer thread, no write (nor a wallet's 2xx) waits for them, and the node's event
loop serves on while they scan."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, writer_stuck

E18 = 10**18
E6 = 10**6


async def test_listings_read_what_is_committed_while_the_writer_is_busy(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):

        async def listed(path: str) -> dict[str, Any]:
            async with api.session.get(api.base + path) as r:
                assert r.status == 200, path
                body: dict[str, Any] = await r.json()
                return body

        signed = chain.sign(chain.order(1, chain.weth, E18, chain.usdc, 3000 * E6))
        async with api.session.post(api.base + "/v1/orders", json=signed.to_json()) as r:
            assert r.status == 201, await r.text()  # (answered once its row is committed)

        with writer_stuck(node) as busy:
            got_orders, got_fills = await asyncio.wait_for(
                asyncio.gather(listed("/v1/orders?perPage=10"), listed("/v1/fills")), 30
            )
            async with api.session.get(api.base + "/health") as r:
                assert r.status == 200
            assert not busy.done()  # all of it answered while the writer was still stuck
        assert got_orders["total"] == 1
        assert got_orders["records"][0]["metaData"]["orderHash"] == signed.hash_hex
        assert (got_fills["total"], got_fills["records"]) == (0, [])
