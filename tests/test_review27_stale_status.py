"""review27: an order's record says when the node's view of the chain is not current.

A restart whose catch-up failed (review25) reports ``/health`` 503 while the watcher
retries, but ``GET /v1/orders/{hash}`` answered 200 with the status the saved mirror gave
(an order filled while the node was down shown ``open``) and nothing to tell a client that
the node could not read the chain. The record is still the node's (its shape pinned), so it
is answered, and ``metaData.chainStatus`` says the watcher's status (``unreachable``,
``behind``, ...) whenever it is not ``ok``; absent when the view is current. The listings
(``/v1/orders``, ``/v1/orderbook``, ``/v1/fills``) carry the same ``chainStatus`` once a
page. Real Hardhat, a
real node, a loopback proxy that fails the catch-up's log read and holds the next one.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_restart_mirror import post_and_save
from tests.test_review25_catch_up import failing_logs


async def _meta(api: Api, hash_hex: str) -> dict[str, Any]:
    code, rec = await api.get(f"/v1/orders/{hash_hex}")
    assert code == 200, rec
    meta: dict[str, Any] = rec["metaData"]
    return meta


async def test_an_order_read_while_the_chain_is_not_read_says_so(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    s = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    with failing_logs(c.deployment.rpc) as (rpc, on, release):
        cfg = replace(node_config(c, tmp_path / "n.db"), rpc=rpc)
        async with running_node(cfg) as (node, api):
            await post_and_save(node, api, c, [s])
            assert "chainStatus" not in await _meta(api, s.hash_hex)  # (current: no flag)
        c.exchange.fill_order(c.sender(BOB), s, 300 * E6)  # (while the node is down)
        on.set()
        async with running_node(cfg) as (node, api):
            meta = await _meta(api, s.hash_hex)
            assert meta["status"] == "open"  # (the saved mirror's word: not current)
            assert meta["chainStatus"] == "unreachable", meta
            for path in (  # the listings say it too, once a page (mine, twenty-first session)
                "/v1/orders",
                f"/v1/orderbook?baseToken={c.weth.address}&quoteToken={c.usdc.address}",
                "/v1/fills",
            ):
                code, page = await api.get(path)
                assert code == 200 and page["chainStatus"] == "unreachable", (path, page)
            release.set()

            async def filled() -> bool:
                m = await _meta(api, s.hash_hex)
                return m["status"] == "filled" and "chainStatus" not in m

            await wait_for(filled, timeout=60)
            code, page = await api.get("/v1/orders")
            assert code == 200 and "chainStatus" not in page, page
