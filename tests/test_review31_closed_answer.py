"""review31: a peer's hello answer with ``Connection: close``. The per-host bound counts a
peer against the address its answer came from (review29: names are free to make), and its
shared URLs against that address's group (peer31). aiohttp drops a connection the server
closes as soon as the answer is read, and the address went with it: "" (not known), so the
peer counted against the group of the *name* in its URL and its introductions against no
source group at all. One header (``Connection: close``) undid both bounds."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from sdex.gossip import GossipConfig, NodeKey
from sdex.gossip.peers import LOOPBACK
from tests.nodeutil import serving
from tests.p2putil import serve_gossip
from tests.test_review29_host_forms import _loopback_name

SHARED = [f"http://10.9.{i}.1:9000" for i in range(8)]


def _closing_hello(key: NodeKey) -> web.Application:
    """A hostile peer: a signed hello answer that shares URLs and closes its connection."""

    async def hello(request: web.Request) -> web.Response:
        body = f'{{"nodeId": "{key.node_id}", "peers": {SHARED!r}, "mesh": false}}'
        data = body.replace("'", '"').encode()
        headers = key.answer_headers(request.headers["X-SDEX-Signature"], 200, data)
        r = web.Response(body=data, content_type="application/json", headers=headers)
        r.force_close()  # (``Connection: close``)
        return r

    app = web.Application()
    app.router.add_post("/p2p/hello", hello)
    return app


async def test_a_peer_that_closes_its_answer_counts_against_its_address() -> None:
    name = _loopback_name()
    if name is None:
        pytest.skip("this machine's name does not resolve to loopback only")
    hostile = NodeKey.generate()
    async with serving(_closing_hello(hostile)) as base:
        url_h = f"http://{name}:{base.rsplit(':', 1)[1]}"  # (its name: a group of its own)
        m = await serve_gossip(GossipConfig(dial_interval=0.1), [url_h])
        b = m.gossip
        await b.start()
        try:
            async with asyncio.timeout(20):
                while b.peers.get(hostile.node_id) is None:
                    await asyncio.sleep(0.05)
            peer = b.peers.get(hostile.node_id)
            assert peer is not None and peer.url == url_h
            assert peer.host == LOOPBACK  # (the address it answered from, not its name)
            shared = {u: c for u, c in b.peers.candidates.items() if u in SHARED}
            assert shared, "its shared URLs were introduced"
            assert {c.source for c in shared.values()} == {LOOPBACK}
        finally:
            await m.runner.shutdown()
            await b.stop()
            await m.runner.cleanup()
