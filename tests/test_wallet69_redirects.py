"""wallet69: a node's HTTP redirect is never followed, by a wallet (``NodeClient``: the CLI,
the console, the audit) or by a node's peer calls (``PeerClient``: every signed ``/p2p/``
request, and the probe of a ``--peer`` URL for JSON-RPC).

Before: ``requests`` (30 hops) and aiohttp (10) followed them: a node answering ``POST
/v1/orders`` with 307 had the wallet post its signed order to whatever host it named (and took
that host's answer as the node's), a cancel likewise, a redirect to itself went round 31 times,
and a peer's redirect took this node's signed hello, or its JSON-RPC probe, to another host.
Now a redirect is the node's protocol error (the wallet says where it pointed and that it was
not followed) or an unsigned answer of its status (a peer: "not an SDEX node"). Real aiohttp
servers on loopback play the hostile node and the host it points at (another port: another
origin); the CLI runs as a real process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from sdex.client import NodeClient, NodeProtocolError
from sdex.gossip import NodeKey
from sdex.gossip.client import PeerClient, peer_session
from tests.fakenode import DOMAIN, KEY, USDC, WETH, order_config, signed
from tests.nodeutil import serving

ROOT = Path(__file__).resolve().parents[1]
HOPS = web.AppKey("hops", list[str])


class Elsewhere:
    """The host a hostile node redirects to: it answers like a node (and a chain) and keeps
    what reached it."""

    def __init__(self) -> None:
        self.got: list[tuple[str, str, bytes]] = []

    async def any(self, request: web.Request) -> web.Response:
        self.got.append((request.method, request.path, await request.read()))
        if request.path == "/":  # (a JSON-RPC call: what a chain answers)
            return web.json_response({"jsonrpc": "2.0", "id": 1, "result": "0x1"})
        if request.path.endswith("/cancel"):
            return web.json_response({"orderHash": "0x" + "00" * 32, "status": "cancelled"})
        return web.json_response({"orderHash": "0x" + "00" * 32, "status": "open"}, status=201)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.any)
        return app


def hostile(to: str, status: int = 307) -> web.Application:
    """A node serving a true ``order_config`` and redirecting everything else to ``to`` (the
    same path there; ``to`` "" for its own URL: a loop)."""
    hops: list[str] = []

    async def config(_: web.Request) -> web.Response:
        return web.json_response(order_config(DOMAIN, WETH, USDC))

    async def redirect(request: web.Request) -> web.Response:
        hops.append(request.path)
        where = (to or f"http://{request.host}") + request.path_qs
        return web.Response(status=status, headers={"Location": where})

    app = web.Application()
    app[HOPS] = hops
    app.router.add_get("/v1/order_config", config)
    app.router.add_route("*", "/{tail:.*}", redirect)
    return app


@asynccontextmanager
async def redirecting(status: int = 307) -> AsyncIterator[tuple[str, str, Elsewhere]]:
    other = Elsewhere()
    async with serving(other.app()) as there, serving(hostile(there, status)) as url:
        yield url, there, other


def _client_call(url: str, what: str) -> Any:
    with NodeClient(url, timeout=5.0) as client:
        order = signed(WETH, USDC, 10**18, 2000 * 10**6)
        if what == "post":
            return client.post_order(order)
        return client.cancel_order(order.hash_hex, b"\x01" * 65)


@pytest.mark.parametrize(("what", "status"), [("post", 307), ("cancel", 308)])
async def test_a_wallets_signed_post_is_not_redirected(what: str, status: int) -> None:
    async with redirecting(status) as (url, there, other):
        with pytest.raises(NodeProtocolError) as caught:
            await asyncio.to_thread(_client_call, url, what)
    said = str(caught.value)
    assert f"HTTP {status}, a redirect to '{there}/v1/orders" in said, said
    assert "not followed" in said, said
    assert other.got == [], other.got  # before: the signed order (or cancel) went there


async def test_a_redirect_loop_is_one_request() -> None:
    app = hostile("", 302)
    async with serving(app) as url:
        with pytest.raises(NodeProtocolError, match="HTTP 302, a redirect to"):
            await asyncio.to_thread(lambda: NodeClient(url, timeout=5.0).health())
    assert app[HOPS] == ["/health"]  # before: 31 (requests' 30 redirects, then its error)


async def test_the_cli_says_a_redirect_and_posts_nothing_elsewhere() -> None:
    """``sdex order`` as a real process: one line naming the redirect, exit 1."""
    async with redirecting() as (url, there, other):
        args = ["order", "buy", "2000", "1", "--node", url, "--key", "0x" + KEY.hex()]
        r = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "sdex", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
        )
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Traceback" not in out, out
    assert f"a redirect to '{there}/v1/orders'" in out and "not followed" in out, out
    assert other.got == [], other.got


@pytest.mark.parametrize("what", ["hello", "probe"])
async def test_a_peers_redirect_takes_no_signed_call_or_probe_elsewhere(what: str) -> None:
    async with redirecting() as (url, _, other), peer_session(5.0) as session:
        peers = PeerClient(session, NodeKey.generate(), "http://127.0.0.1:1")
        if what == "hello":
            hello = await peers.call("POST", url, "/p2p/hello", {"hi": 1}, timeout=5.0)
            assert (hello.status, hello.signer) == (307, None)  # (unsigned: not a node)
        else:
            assert not await peers.speaks_json_rpc(url, 5.0)  # before: True, elsewhere's
    assert other.got == [], other.got  # before: the signed hello, or the probe, went there
