"""A loopback HTTP proxy in front of a node's API that answers ``POST /v1/orders`` late: the
node takes the order, its answer held until the test lets it go (a wallet, or the web page,
gives up first: left77, review77b), or the request never reaches the node."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
from aiohttp import web

HOLD_BOUND = 60.0
"""Seconds the proxy holds an answer at most (the test lets it go sooner)."""
WALLET_TIMEOUT = 7.0
"""The wallet's timeout (``$SDEX_WALLET_TIMEOUT``) in tests whose wallet waits it out on an
answer the test holds: 3 s under its 10 s, still ample on CI's loaded cores for the answers it
must have in time (an in-process node's reads and its commit of one row, on loopback)."""
WALLET_ENV = {"COLUMNS": "200", "SDEX_WALLET_TIMEOUT": f"{WALLET_TIMEOUT:g}"}
"""A wallet command's environment there (``CliRunner.invoke``'s ``env``)."""


@contextlib.contextmanager
def served_in_thread(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Iterator[str]:
    """``handle`` serving every path and method on a loopback port of the kernel's pick, on an
    event loop of its own thread (the test's loop may block: a wallet's synchronous client);
    its base URL. Closed, and the thread joined, at exit."""
    loop = asyncio.new_event_loop()
    runner: web.AppRunner | None = None

    async def start() -> str:
        nonlocal runner
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        runner = web.AppRunner(app, shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    finally:
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


async def passed_on(upstream: str, request: web.Request) -> tuple[int, str, bytes]:
    """``request`` sent on to ``upstream`` as it came: the answer's status, content type and
    body."""
    body = await request.read()
    async with (
        aiohttp.ClientSession() as s,
        s.request(
            request.method, upstream + request.path_qs, data=body,
            headers={"Content-Type": request.headers.get("Content-Type", "")},
        ) as r,
    ):  # fmt: skip
        ctype = r.headers.get("Content-Type", "application/json")
        return r.status, ctype, await r.read()


async def _socket(upstream: str, request: web.Request) -> web.WebSocketResponse:
    """A websocket (the web page's live feed) joined to one at ``upstream``, both ways."""
    ours = web.WebSocketResponse()
    await ours.prepare(request)
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(upstream.replace("http", "ws", 1) + request.path_qs) as theirs,
    ):

        async def down() -> None:
            async for msg in theirs:
                await ours.send_str(msg.data)

        task = asyncio.ensure_future(down())
        async for msg in ours:
            await theirs.send_str(msg.data)
        task.cancel()
    return ours


@contextlib.contextmanager
def late_post_proxy(upstream: str, hold: bool = True) -> Iterator[tuple[str, threading.Event]]:
    """A loopback HTTP proxy to ``upstream`` (its websockets too), every request passed on at
    once but ``POST /v1/orders``: passed on and its answer held until the event is set (when
    ``hold``), or dropped unsent (``hold`` False: the request never reaches the node, its
    client answered 504 once the event is set); at most ``HOLD_BOUND`` seconds either way."""
    release = threading.Event()

    async def released() -> None:
        await asyncio.to_thread(release.wait, HOLD_BOUND)

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return await _socket(upstream, request)
        posted = request.method == "POST" and request.path == "/v1/orders"
        if posted and not hold:
            await request.read()
            await released()
            return web.Response(status=504)
        status, ctype, answer = await passed_on(upstream, request)
        if posted:
            await released()
        return web.Response(body=answer, status=status, headers={"Content-Type": ctype})

    with served_in_thread(handle) as url:
        try:
            yield url, release
        finally:
            release.set()  # (before the server closes: a held handler ends first)
