"""gossip98 (left45's live test): a peer is the key that signs, never the id or URL it
claims. Real gossip nodes on loopback, signed peer requests.

- A stranger's signed hello claiming a peer's URL (``X-SDEX-Node`` and its body) gets no
  entry of its own at that URL and leaves the peer's entry as it was: the URL is dialled,
  and whoever answers there is admitted (the peer itself).
- A relay claiming a peer's *id* (its URL passes every byte to the peer, so each answer
  there is signed by the peer's key) must not move the peer's entry to the relay's URL:
  before the fix, a node dialling a URL a stranger introduced moved its admitted peer there
  (``Peers.admit`` "refreshes its URL"), and all its calls to that peer then went through
  whoever ran the relay, who could drop them till the peer was evicted.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
from aiohttp import web

from sdex.gossip import NodeKey
from tests.p2putil import gossip_net

SKIPPED = {"host", "content-length", "transfer-encoding", "connection"}


async def hello(session: aiohttp.ClientSession, at: str, to: str, key: NodeKey, url: str) -> int:
    body = json.dumps({"url": url, "peers": [url], "mesh": True}).encode()
    headers = key.request_headers("POST", "/p2p/hello", body, url, to=to)
    headers["Content-Type"] = "application/json"
    async with session.post(at + "/p2p/hello", data=body, headers=headers) as r:
        return r.status


async def test_a_stranger_claiming_a_peers_url_is_not_that_peer() -> None:
    async with gossip_net(2) as (a, b), aiohttp.ClientSession() as session:
        m = NodeKey.generate()
        before = a.gossip.peers.get(b.gossip.node_id)
        assert before is not None and before.url == b.url
        assert await hello(session, a.url, a.gossip.node_id, m, b.url) == 200
        assert await hello(session, a.url, "", m, b.url) == 200
        assert a.gossip.peers.get(m.node_id) is None
        at_url = a.gossip.peers.by_url(b.url)
        assert at_url is not None and at_url.key == b.gossip.node_id
        assert m.node_id not in a.gossip.core.mesh


async def test_a_relay_claiming_a_peers_id_does_not_take_its_entry() -> None:
    async with gossip_net(2) as (a, b), aiohttp.ClientSession() as session:
        relayed: list[str] = []

        async def relay(request: web.Request) -> web.StreamResponse:
            if request.path.endswith("/stream"):
                raise web.HTTPNotFound()  # (no streams: A falls back to HTTP)
            headers = {k: v for k, v in request.headers.items() if k.lower() not in SKIPPED}
            body = await request.read()
            async with session.request(
                request.method, b.url + request.path_qs, data=body, headers=headers
            ) as r:
                raw = await r.read()
                out = {k: v for k, v in r.headers.items() if k.lower() not in SKIPPED}
                relayed.append(request.path)
                return web.Response(body=raw, status=r.status, headers=out)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", relay)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            relay_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            m = NodeKey.generate()  # the relay's operator introduces its URL to A
            assert await hello(session, a.url, a.gossip.node_id, m, relay_url) == 200
            async with asyncio.timeout(30):  # A dials it: B answers through it
                while "/p2p/hello" not in relayed:
                    await asyncio.sleep(0.05)
            for _ in range(60):  # (A takes the answer on its loop: 3 s at most)
                peer = a.gossip.peers.get(b.gossip.node_id)
                assert peer is not None and peer.url == b.url, (peer, relay_url)
                await asyncio.sleep(0.05)
            assert a.gossip.peers.get(m.node_id) is None
        finally:
            await runner.cleanup()
