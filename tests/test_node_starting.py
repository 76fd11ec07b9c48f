"""A node opens its port before it has loaded its stored orders (seconds on a large store;
user14 measured 38 s with the port shut and the loop held 12 s at once, bench/startup_port.py):
meanwhile /health says "starting" (503) and every other route answers 503 with Retry-After,
so a load balancer, a wallet or a peer waits; then every stored order is back."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from sdex.node.main import run_until, serve
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import has_ipv6_loopback, node_config, wait_for
from tests.rpcfault import holding_proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_starting_node_answers_503_until_every_stored_order_is_loaded(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    stored = [c.sign(ask(c, ALICE, E18, (3000 + i) * E6, salt=700 + i)) for i in range(3)] + [
        c.sign(bid(c, BOB, E18, (2000 - i) * E6, salt=800 + i)) for i in range(2)
    ]
    for seq, s in enumerate(stored, 1):
        store.add_order(s, seq, "open", "api")
    store.close()
    base = f"http://{cfg.host}:{cfg.port}"
    fresh = c.sign(ask(c, ALICE, E18, 3100 * E6, salt=900))
    with holding_proxy(c.deployment.rpc) as (rpc, release):
        stop = asyncio.Event()

        async def run() -> None:
            async with serve(replace(cfg, rpc=rpc)):
                await stop.wait()

        task = asyncio.create_task(run())
        try:
            async with aiohttp.ClientSession() as http:

                async def health() -> tuple[int, dict[str, object]]:
                    try:
                        async with http.get(base + "/health") as r:
                            return r.status, await r.json()
                    except aiohttp.ClientConnectionError:
                        return 0, {}  # (the port not open yet)

                async def starting() -> bool:
                    return (await health())[1].get("status") == "starting"

                await wait_for(starting, timeout=30)  # the stored orders' state read is held
                status, body = await health()
                assert status == 503 and body["status"] == "starting"
                for method, path, payload in (
                    ("POST", "/v1/orders", fresh.to_json()),
                    ("GET", "/v1/orderbook?baseToken=x&quoteToken=y", None),
                    ("GET", "/v1/orders", None),
                    ("GET", "/v1/order_config", None),
                ):
                    async with http.request(method, base + path, json=payload) as r:
                        assert r.status == 503, (path, await r.text())
                        assert r.headers["Retry-After"] == "1"
                        assert "Starting" in (await r.json())["reason"]
                release.set()

                async def ready() -> bool:
                    return (await health())[0] == 200

                await wait_for(ready, timeout=30)
                async with http.get(base + "/v1/orders", params={"perPage": "100"}) as r:
                    page = await r.json()
                got = {rec["metaData"]["orderHash"] for rec in page["records"]}
                assert got == {s.hash_hex for s in stored}  # none lost
                assert all(rec["metaData"]["status"] == "open" for rec in page["records"])
                async with http.post(base + "/v1/orders", json=fresh.to_json()) as r:
                    assert r.status == 201, await r.text()  # taken once ready
        finally:
            release.set()
            stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_a_node_on_an_ipv6_host_tells_its_peers_a_url_they_can_dial(
    chain: Chain, tmp_path: Path
) -> None:
    """review15: on ``--host ::1`` the node's own URL, which gossip hands its peers, was
    ``http://::1:PORT`` (no brackets: no client parses it); it is ``http://[::1]:PORT``."""
    cfg = replace(node_config(chain, tmp_path / "n.db"), host="::1")
    async with serve(cfg) as node, aiohttp.ClientSession() as http:
        assert node.gossip is not None
        me = node.gossip.core.me
        assert me == f"http://[::1]:{node.config.port}"
        async with http.get(me + "/health") as r:
            assert r.status == 200, await r.text()


async def test_a_stop_during_the_start_ends_the_start(chain: Chain, tmp_path: Path) -> None:
    """review15: a SIGTERM (``stop``) while the stored orders load waited for the whole load
    (4-12 s on a 100,000-order store; here the chain read is held 60 s): now the load is
    cancelled and the port closed at once, the store left as it was."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    stored = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=950))
    store.add_order(stored, 1, "open", "api")
    store.close()
    base = f"http://{cfg.host}:{cfg.port}"
    with holding_proxy(c.deployment.rpc) as (rpc, _release):
        stop = asyncio.Event()
        task = asyncio.create_task(run_until(replace(cfg, rpc=rpc), 0.005, stop))
        async with aiohttp.ClientSession() as http:

            async def starting() -> bool:
                try:
                    async with http.get(base + "/health") as r:
                        return (await r.json()).get("status") == "starting"
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for(starting, timeout=30)
            stop.set()
            await asyncio.wait_for(task, 15)  # (not the proxy's 60 s hold)
            with contextlib.suppress(aiohttp.ClientConnectionError):
                async with http.get(base + "/health") as r:
                    raise AssertionError(f"still answering: {r.status}")
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    try:
        row = store.order(stored.hash_hex)
        assert row is not None and row.status == "open"  # (nothing lost, nothing closed)
    finally:
        store.close()
