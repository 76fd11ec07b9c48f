"""review75: strangers' hellos are budgeted per client and per wider IPv6 network.

gossip74 gave strangers' hellos a budget per client group (``gate.HELLOS``), a plain
``RateLimiter`` of /64s: one IPv6 site (a /48: 65,536 /64s, a few dollars a month) had a full
budget in each, every hello admitted and answered in full (its signature recovered, its
introduction, a signed answer), where before every stranger shared one budget (limits34: a
per-client budget counts the client's /56 and /48 too, ``httpkit.NetworkLimiter``). A real
gossip server on loopback; the hellos' client addresses are given by a middleware standing
for a trusted proxy (loopback has one IPv6 /64), the hello budget made small to count with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from sdex.gossip import GossipConfig, NodeKey, routes
from sdex.gossip.gossip import Gossip
from sdex.httpkit import RateLimit
from tests.p2putil import MemoryNode
from tests.portpick import on_a_picked_port

HELLOS = RateLimit(rate=0.1, burst=4)
"""The hello budget here: 4 at once a client (and, fixed, 4 clients' for its /56 and /48)."""
CLIENT = "X-Test-Client"


@web.middleware
async def as_client(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """The request as from the address the proxy in front said (``CLIENT``)."""
    remote = request.headers.get(CLIENT)
    return await handler(request.clone(remote=remote) if remote else request)


async def _served() -> tuple[web.AppRunner, Gossip, str]:
    async def start(port: int) -> tuple[web.AppRunner, Gossip, str]:
        url = f"http://127.0.0.1:{port}"
        node = MemoryNode()
        g = Gossip(node, url, [], GossipConfig(), NodeKey.generate())
        node.gossip = g
        app = web.Application(middlewares=[as_client])
        routes.add_routes(app, g, RateLimit())
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except BaseException:
            await runner.cleanup()
            raise
        return runner, g, url

    return await on_a_picked_port(start)


async def _hellos(url: str, to: str, clients: list[str], each: int) -> dict[str, list[int]]:
    """``each`` signed hellos from a new stranger key per client; their statuses by client."""
    out: dict[str, list[int]] = {}
    async with aiohttp.ClientSession() as s:
        for client in clients:
            key, got = NodeKey.generate(), out.setdefault(client, [])
            for i in range(each):
                path, body = f"/p2p/hello?n={i}", b"{}"
                headers = key.request_headers("POST", path, body, "http://127.0.0.1:9", to)
                headers |= {CLIENT: client, "Content-Type": "application/json"}
                async with s.post(url + path, data=body, headers=headers) as r:
                    await r.read()
                    got.append(r.status)
    return out


@pytest.mark.parametrize(
    ("clients", "most"),
    [
        # one /48 (and /56), 20 of its /64s: 4 clients' budget in all, 16 (and a refill)
        ([f"2001:db8:7:{i:x}::1" for i in range(20)], 16 + 4),
        # 20 /48s: each its own budget, all admitted
        ([f"2001:db8:{i:x}::1" for i in range(20)], 80),
        # IPv4 addresses: each alone, as before
        ([f"192.0.2.{i + 1}" for i in range(20)], 80),
    ],
)
async def test_a_sites_hellos_share_its_networks_budget(
    monkeypatch: pytest.MonkeyPatch, clients: list[str], most: int
) -> None:
    monkeypatch.setattr(routes, "HELLOS", HELLOS)
    runner, g, url = await _served()
    try:
        got = await _hellos(url, g.node_id, clients, 4)
    finally:
        await runner.cleanup()
    admitted = sum(s != 429 for statuses in got.values() for s in statuses)
    assert all(s in (200, 429) for statuses in got.values() for s in statuses), got
    assert got[clients[0]] == [200] * 4  # (a client's own budget, whole)
    if most == 80:
        assert admitted == 80
    else:
        assert admitted <= most, admitted  # (before: 80, a full budget in each /64)
