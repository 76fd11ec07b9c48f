"""A JSON-RPC proxy on loopback (aiohttp) in front of the test chain for sends31's tests: a
rule sees each request first and may pad the chain's answer past a client's bound (with a
Content-Length or chunked), answer an error of its own, or close the connection without
an answer (after the chain served the request, or before); the rest is forwarded."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.settlement.broadcast import Broadcaster
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain


@dataclass(frozen=True)
class Pad:
    """Forward (a sync send as a plain one), then answer the chain's JSON padded with
    ``size`` bytes of whitespace (valid JSON)."""

    size: int
    chunked: bool = False


@dataclass(frozen=True)
class Fail:
    """Answer a JSON-RPC error instead of forwarding (``code`` 0: HTTP ``status``)."""

    code: int
    message: str = ""
    status: int = 200


@dataclass(frozen=True)
class Drop:
    """Close the connection without an answer; ``served``: after forwarding the request."""

    served: bool


Action = Pad | Fail | Drop | None
Rule = Callable[[str, int], Action]
"""(method, how many times the proxy saw it before) -> what to do (None: forward)."""


@dataclass
class Proxy:
    url: str
    seen: Counter[str] = field(default_factory=Counter)


def _method(msg: Any) -> str:
    first = msg[0] if isinstance(msg, list) and msg else msg
    return str(first.get("method")) if isinstance(first, dict) else ""


@asynccontextmanager
async def hostile_proxy(upstream: str, rule: Rule) -> AsyncIterator[Proxy]:
    """A proxy to ``upstream`` on loopback whose answers ``rule`` chooses (a batch by its
    first call's method)."""
    proxy = Proxy("")
    session = aiohttp.ClientSession()

    async def forward(msg: Any) -> bytes:
        async with session.post(upstream, json=msg) as r:
            return await r.read()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        method = _method(msg)
        action = rule(method, proxy.seen[method])
        proxy.seen[method] += 1
        if isinstance(action, Drop):
            if action.served:
                await forward(msg)
            assert request.transport is not None
            request.transport.close()
            raise ConnectionResetError("dropped on purpose")
        if isinstance(action, Fail):
            if action.code == 0:
                return web.Response(status=action.status, text="refused")
            error = {"code": action.code, "message": action.message}
            return web.json_response({"jsonrpc": "2.0", "id": msg.get("id"), "error": error})
        if isinstance(action, Pad):
            plain = dict(msg, method="eth_sendRawTransaction") if "Sync" in method else msg
            body = await forward(plain) + b" " * action.size
            if not action.chunked:
                return web.Response(body=body, content_type="application/json")
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for i in range(0, len(body), 1 << 16):
                await resp.write(body[i : i + (1 << 16)])
            await resp.write_eof()
            return resp
        return web.Response(body=await forward(msg), content_type="application/json")

    try:
        async with serving_posts(handle) as proxy.url:
            yield proxy
    finally:
        await session.close()


@asynccontextmanager
async def serving_posts(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """``handle`` serving POSTs to "/" on a loopback port of its own: its URL."""
    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/", handle)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}/"
    finally:
        await runner.cleanup()


Calls = list[dict[str, Any]]
"""A JSON-RPC message's calls (one, or a batch's)."""


@asynccontextmanager
async def passing_posts(
    upstream: str,
    before: Callable[[Any, Calls], Awaitable[Any]],
    after: Callable[[Calls], None] = lambda _calls: None,
) -> AsyncIterator[str]:
    """A loopback JSON-RPC proxy to ``upstream`` (its URL): each message (``serving_posts``)
    given with its calls to ``before``, which may wait on them and answers the message to
    pass on (None: as it came), and then ``after``, as the chain's answer is passed back."""
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        msg: Any = json.loads(body)
        calls = [c for c in (msg if isinstance(msg, list) else [msg]) if isinstance(c, dict)]
        changed = await before(msg, calls)
        data = body if changed is None else json.dumps(changed).encode()
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream, data=data, headers=headers) as r:
            answer = await r.read()
        after(calls)
        return web.Response(body=answer, content_type="application/json")

    try:
        async with serving_posts(handle) as url:
            yield url
    finally:
        await session.close()


@contextmanager
def stored_broadcaster(c: Chain, tmp: Path) -> Iterator[Broadcaster]:
    """A broadcaster on dev account 1 with a store of its own in ``tmp``, closed after (its
    writer thread and SQLite connections were left open by each test)."""
    identity = ChainIdentity(c.deployment.chain_id, c.exchange.address, "0x" + "00" * 32)
    store = Store(tmp / "b.db", identity, c.domain)
    try:
        yield Broadcaster(c.sender(1), store, c.exchange)
    finally:
        store.close()
