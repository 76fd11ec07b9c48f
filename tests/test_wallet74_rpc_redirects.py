"""wallet74: a chain's JSON-RPC endpoint that answers with a redirect is refused, never
followed, by the async client (``AsyncRpc``: the node's reads and settlement sends) and the
sync one (``Rpc``: ``requests`` for TLS and proxied URLs, ``http.client`` for plain http).

Before: aiohttp followed 10 redirects and ``requests`` 30, re-posting the body on a 307 or 308:
an RPC URL answering 307 had a node send its calls, signed settlement transactions included,
to whatever host the answer named, and take that host's answers as the chain's (wallet69
closed this for the node's own HTTP and websocket paths only). Real aiohttp servers on
loopback: the redirecting endpoint and the chain it points at (another port), which counts
what reaches it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from sdex.chain.arpc import AsyncRpc
from sdex.chain.rpc import Rpc
from sdex.errors import RpcError
from tests.nodeutil import serving

GOT = web.AppKey("got", list[object])


def _elsewhere() -> web.Application:
    """A chain that answers every call (chain id 31337) and keeps what reached it."""

    async def answer(request: web.Request) -> web.Response:
        body = await request.json()
        request.app[GOT].append(body)
        if isinstance(body, list):
            return web.json_response(
                [{"jsonrpc": "2.0", "id": c["id"], "result": "0x1"} for c in body]
            )
        return web.json_response({"jsonrpc": "2.0", "id": body.get("id"), "result": "0x7a69"})

    app = web.Application()
    app[GOT] = []
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def _redirecting(to: str, status: int) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        request.app[GOT].append(request.path)
        return web.Response(status=status, headers={"Location": to + request.path_qs})

    app = web.Application()
    app[GOT] = []
    app.router.add_route("*", "/{tail:.*}", redirect)
    return app


@asynccontextmanager
async def redirecting(status: int) -> AsyncIterator[tuple[str, str, list[object], list[object]]]:
    """The redirecting URL, where it points, the requests each got."""
    other = _elsewhere()
    async with serving(other) as there:
        hostile = _redirecting(there, status)
        async with serving(hostile) as url:
            yield url, there, hostile[GOT], other[GOT]


def _sync_call(url: str, path: str, batch: bool) -> object:
    rpc = Rpc(url, timeout=5.0)
    if path == "requests":
        rpc._lean = None  # (the path a TLS or proxied URL takes; loopback serves plain http)
    try:
        if batch:
            return rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
        return rpc.call("eth_sendRawTransaction", "0x02f8")
    finally:
        rpc.close()


STATUSES = (301, 302, 303, 307, 308)


@pytest.mark.parametrize("status", STATUSES)
async def test_the_async_client_does_not_follow(status: int) -> None:
    async with redirecting(status) as (url, there, hops, got):
        rpc = AsyncRpc(url, timeout=5.0)
        try:
            with pytest.raises(RpcError) as caught:
                await rpc.call("eth_sendRawTransaction", "0x02f8")
            with pytest.raises(RpcError, match="a redirect"):
                await rpc.batch([("eth_chainId", []), ("eth_blockNumber", [])])
        finally:
            await rpc.close()
    said = str(caught.value)
    assert f"answered HTTP {status}, a redirect to '{there}/'" in said, said
    assert "not followed" in said, said
    assert got == [], got  # before: the signed transaction (and the batch) reached it
    assert hops == ["/", "/"], hops


@pytest.mark.parametrize("path", ["requests", "http.client"])
@pytest.mark.parametrize("status", STATUSES)
async def test_the_sync_client_does_not_follow(status: int, path: str) -> None:
    async with redirecting(status) as (url, there, hops, got):
        for batch in (False, True):
            with pytest.raises(Exception) as caught:
                await asyncio.to_thread(_sync_call, url, path, batch)
            said = str(caught.value)
            assert f"{status}" in said and "redirect" in said.lower(), said
            if path == "requests":
                assert isinstance(caught.value, RpcError), repr(caught.value)
                assert f"a redirect to '{there}/'" in said and "not followed" in said, said
    assert got == [], got  # before (requests): the call and the batch reached it
    assert hops == ["/", "/"], hops
