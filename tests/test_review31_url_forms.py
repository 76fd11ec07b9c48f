"""review31: an introduced URL that yarl cannot parse with an ``IndexError`` (``http://[]@``:
brackets and an ``@``; ``_plausible`` lets it through) escaped ``host_group``, which caught
only ``ValueError`` (peer31 parses an introduced URL for its target group). A stranger's
hello sharing one got a 500 (bad input must never give a 5xx) with a traceback logged, and
the URLs after it in the hello were not introduced, nor a graft taken."""

from __future__ import annotations

import asyncio
import json
import random
import socket

import aiohttp
import pytest
from aiohttp import web

from sdex.gossip import Gossip, GossipConfig, NodeKey
from sdex.gossip.hosts import host_group
from sdex.gossip.routes import add_routes
from sdex.httpkit import RateLimit
from tests.p2putil import MemoryNode
from tests.test_peer30_first_hello import SHARED, core_with

BAD = ["http://[]@", "http://a[b]@", "http://[a]b@", "http://4^[|\tQ]'du@"]


@pytest.mark.parametrize("url", BAD)
def test_an_unparseable_url_is_a_group_of_its_own(url: str) -> None:
    assert host_group(url) == url  # (as any URL yarl refuses: no exception)


def test_a_hello_sharing_one_introduces_the_others() -> None:
    core = core_with(admitted=False)
    core.hello("0x" + "0a" * 20, "http://192.0.2.1:9000", {"peers": [*BAD, *SHARED]})
    assert set(SHARED) <= set(core.peers.candidates)


async def test_a_strangers_hello_sharing_one_is_answered_200() -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # (bound: no pick another can take)
    port = listener.getsockname()[1]
    node = MemoryNode()
    c = Gossip(node, f"http://127.0.0.1:{port}", [], GossipConfig(), NodeKey.generate())
    node.gossip = c
    c.core.peers.rng = random.Random(1)
    app = web.Application()
    add_routes(app, c, RateLimit())
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.SockSite(runner, listener).start()
        a = NodeKey.generate()
        me = "http://192.0.2.1:9000"
        body = json.dumps({"url": me, "peers": [BAD[0], *SHARED]}).encode()
        signed = a.request_headers("POST", "/p2p/hello", body, me, to=c.key.node_id)
        headers = {**signed, "Content-Type": "application/json"}
        async with asyncio.timeout(20), aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/p2p/hello"
            async with session.post(url, data=body, headers=headers) as r:
                assert r.status == 200  # before: 500
        assert set(SHARED) <= set(c.peers.candidates)
    finally:
        await runner.cleanup()
        listener.close()


@pytest.mark.parametrize("url", [*BAD, "http://[zz]"])
async def test_dialling_one_is_a_failed_call_not_a_bug(url: str) -> None:
    """(Before: IndexError or ValueError out of the client: logged with a traceback as a
    defect by ``Gossip._call``, a dial a candidate a peer introduced.)"""
    from sdex.gossip.client import PeerCallError, PeerClient

    async with aiohttp.ClientSession() as session:
        pc = PeerClient(session, NodeKey.generate(), "http://127.0.0.1:1")
        with pytest.raises(PeerCallError):
            await pc.call("POST", url, "/p2p/hello", {}, timeout=2)
