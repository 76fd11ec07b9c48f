"""A WebSocket upgrade never follows a redirect (gossip70, found by wallet69;
``sdex.wsredirects``): aiohttp's ``ws_connect`` followed up to 10, so a peer's stream URL
could have this node send its signed upgrade request to any host it named, and a hostile
RPC URL move the chain's head subscription to a server of its choosing. Real aiohttp
servers on loopback: one that redirects every request to the other, which records what
reaches it (and answers as a head subscription would)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from sdex.gossip import NodeKey
from sdex.gossip.client import peer_session
from sdex.gossip.stream import StreamDown, dial
from sdex.mirror import Header
from sdex.watch.heads import follow_heads
from tests.nodeutil import serving
from tests.test_stream import until


@contextlib.asynccontextmanager
async def redirected() -> AsyncIterator[tuple[str, list[str], list[str]]]:
    """(the URL of a server that answers every request with a 307 to a second one, the
    paths it was asked, the paths the second was asked). The second takes a WebSocket and
    answers ``eth_subscribe`` as an RPC would."""
    reached: list[str] = []
    asked: list[str] = []

    async def target(request: web.Request) -> web.StreamResponse:
        reached.append(request.path_qs)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _msg in ws:
            await ws.send_json({"jsonrpc": "2.0", "id": 1, "result": "0x1"})
        return ws

    there = web.Application()
    there.router.add_route("*", "/{tail:.*}", target)
    async with serving(there) as target_url:

        async def redirect(request: web.Request) -> web.StreamResponse:
            asked.append(request.path_qs)
            raise web.HTTPTemporaryRedirect(target_url + request.path_qs)

        here = web.Application()
        here.router.add_route("*", "/{tail:.*}", redirect)
        async with serving(here) as url:
            yield url, asked, reached


async def test_a_stream_upgrade_answered_with_a_redirect_is_refused() -> None:
    """A peer whose stream upgrade answers 307: the dial fails with a clear error (the
    stream is down: calls go over HTTP, the stream is tried again later, as for any
    refused upgrade), and the host it named is never asked (before: it got the node's
    signed upgrade request)."""
    key, peer = NodeKey.generate(), NodeKey.generate()
    async with redirected() as (url, asked, reached):
        session = peer_session(5.0)
        try:
            with pytest.raises(StreamDown, match="redirect"):
                async with asyncio.timeout(10):  # (before: it waited on the other host)
                    await dial(
                        session, key, "http://127.0.0.1:9", url, peer.node_id, lambda _k: None
                    )
        finally:
            await session.close()
        assert len(asked) == 1 and asked[0].startswith("/p2p/stream?")
        assert reached == []  # before: the upgrade request, at the host the peer named


async def test_the_head_subscription_is_not_redirected() -> None:
    """An RPC URL whose WebSocket upgrade answers 307: the subscription is not opened
    (the watcher polls), and the host it named is never asked (before: the node subscribed
    to heads at the server the redirect named)."""
    heads: list[Header | None] = []
    subscribed: list[bool] = []
    async with redirected() as (url, asked, reached):
        task = asyncio.create_task(follow_heads(url, heads.append, subscribed.append))
        try:
            await until(lambda: subscribed == [False], 10)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert asked == ["/"] and reached == []  # before: subscribed at the other host
