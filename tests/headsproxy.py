"""A loopback proxy in front of a chain's JSON-RPC: its HTTP posts passed on (a test may hold
the range reads), and its WebSocket's ``eth_subscribe("newHeads")`` feed joined to the
chain's, each notification given to the test, which may pass it, drop it or send a header
of its own (a lying feed). One URL for both, as a node takes one (``sdex.watch.heads``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Note = dict[str, Any]
"""A newHeads notification's header (its ``params.result``)."""


def latest_read(call: dict[str, Any]) -> bool:
    """Whether ``call`` asks for the latest block's header."""
    params = call.get("params")
    return call.get("method") == "eth_getBlockByNumber" and bool(params) and params[0] == "latest"


@dataclass
class HeadsProxy:
    url: str = ""
    passes: Callable[[Note], bool] = lambda _note: True
    """Whether a notification from the chain is passed on (else dropped)."""
    rewrite: Callable[[Note], Note] | None = None
    """While set, each notification passed on is this of the chain's (a feed forging a
    field, its hash kept)."""
    latest: list[Note] = field(default_factory=list)
    """Answers for the next reads of the latest block, in turn, instead of the chain's (a
    balancer's other backend); each taken once."""
    numbers: list[str] = field(default_factory=list)
    """Answers for the next ``eth_blockNumber`` calls (not in a batch), in turn, instead of
    the chain's (a backend's wrong head); each taken once, ``number_reads`` counting them."""
    number_reads: int = 0
    numbered: dict[int, list[Note]] = field(default_factory=dict)
    """Answers for the next reads of a block by its number (alone or in a batch), in turn,
    instead of the chain's (a balancer's stale backend); each taken once."""
    dropped: list[Note] = field(default_factory=list)
    sent: list[Note] = field(default_factory=list)
    """Notifications passed on or sent by the test, in order."""
    hold_ranges: bool = False
    """While set, the JSON-RPC messages ``holds`` picks (batches: the watcher's range reads)
    wait, ``held`` counted; one let through for each ``let_through``."""
    holds: Callable[[Any], bool] = lambda msg: isinstance(msg, list)
    held: int = 0
    latest_reads: int = 0
    on_latest: Callable[[], None] = lambda: None
    """Called as each read of the latest block comes in, before it is passed on."""
    visible: int | None = None
    """While set, the JSON-RPC side answers as a backend whose head is this block (a load
    balancer's lagging one, the feed's ahead of it): a block above it is null, "latest" and
    ``eth_blockNumber`` are it; ``hidden`` counts the blocks answered null."""
    hidden: int = 0
    late: bool = False
    """While set, the chain's notifications are queued (``queued``), each passed on by
    ``deliver`` (a feed that announces every block late)."""
    queued: list[tuple[web.WebSocketResponse, str]] = field(default_factory=list)
    ports: set[int] = field(default_factory=set)
    """The client ports of the connections the JSON-RPC side has served (one a connection)."""
    pinned: set[int] = field(default_factory=set)
    """Client ports of connections a sticky balancer pins to a stale backend: their reads of
    the latest block answer ``stale_blocks[-1]``, of a numbered block in ``stale_blocks``
    that header (after ``latest``'s and ``numbered``'s answers); the rest forwarded."""
    stale_blocks: dict[int, Note] = field(default_factory=dict)
    pinned_reads: int = 0
    """Reads answered from ``stale_blocks`` on a pinned connection."""
    _sockets: list[tuple[web.WebSocketResponse, str]] = field(default_factory=list)
    _turn: asyncio.Condition = field(default_factory=asyncio.Condition)
    _through: int = 0

    async def announce(self, header: Note, subscription: str | None = None) -> int:
        """``header`` sent as a notification on every open feed (``subscription``: under
        that id, not the feed's): how many took it."""
        sent = 0
        for ws, sub in list(self._sockets):
            if ws.closed:
                continue
            note = {"jsonrpc": "2.0", "method": "eth_subscription",
                    "params": {"subscription": subscription or sub, "result": header}}  # fmt: skip
            with suppress(ConnectionError, RuntimeError):
                await ws.send_str(json.dumps(note))
                sent += 1
        if sent:
            self.sent.append(header)
        return sent

    async def deliver(self, count: int = 1) -> int:
        """The oldest ``count`` queued notifications passed on (``late``): how many."""
        sent = 0
        while self.queued and sent < count:
            ws, text = self.queued.pop(0)
            with suppress(ConnectionError, RuntimeError):
                await ws.send_str(text)
                self.sent.append(json.loads(text)["params"]["result"])
            sent += 1
        return sent

    def feeds(self) -> int:
        """Open subscriptions."""
        return sum(1 for ws, _ in self._sockets if not ws.closed)

    async def let_through(self, n: int = 1) -> None:
        async with self._turn:
            self._through += n
            self._turn.notify_all()

    async def free(self) -> None:
        self.hold_ranges = False
        async with self._turn:
            self._turn.notify_all()

    async def _wait_turn(self) -> None:
        async with self._turn:
            self.held += 1
            await self._turn.wait_for(lambda: not self.hold_ranges or self._through > 0)
            if self.hold_ranges:
                self._through -= 1


@asynccontextmanager
async def heads_proxy(upstream: str) -> AsyncIterator[HeadsProxy]:
    """A ``HeadsProxy`` to the chain at ``upstream`` (http), serving on a loopback port."""
    proxy = HeadsProxy()
    session = aiohttp.ClientSession()
    ws_upstream = "ws" + upstream.removeprefix("http")

    async def post(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        msg: Any = json.loads(body)
        peer = request.transport.get_extra_info("peername") if request.transport else None
        port = int(peer[1]) if peer else -1
        proxy.ports.add(port)
        if proxy.hold_ranges and proxy.holds(msg):
            await proxy._wait_turn()
        if isinstance(msg, dict) and latest_read(msg):
            proxy.latest_reads += 1
            proxy.on_latest()
            if proxy.latest:
                said = {"jsonrpc": "2.0", "id": msg.get("id"), "result": proxy.latest.pop(0)}
                return web.Response(body=json.dumps(said).encode(), content_type="application/json")
        if isinstance(msg, dict) and msg.get("method") == "eth_blockNumber":
            proxy.number_reads += 1
            if proxy.numbers:
                said = {"jsonrpc": "2.0", "id": msg.get("id"), "result": proxy.numbers.pop(0)}
                return web.Response(body=json.dumps(said).encode(), content_type="application/json")
        if isinstance(msg, dict) and (said := proxy.numbered.get(numbered(msg), [])):
            answer = {"jsonrpc": "2.0", "id": msg.get("id"), "result": said.pop(0)}
            return web.Response(body=json.dumps(answer).encode(), content_type="application/json")
        if isinstance(msg, list) and any(proxy.numbered.get(numbered(c)) for c in msg):
            answers = json.loads(await forward(body))
            by_id = {a.get("id"): a for a in answers}
            for call in msg:
                if (said := proxy.numbered.get(numbered(call), [])) and call.get("id") in by_id:
                    by_id[call.get("id")]["result"] = said.pop(0)
            return web.Response(body=json.dumps(answers).encode(), content_type="application/json")
        if port in proxy.pinned and proxy.stale_blocks:
            answer = json.dumps(await stale(msg)).encode()
            return web.Response(body=answer, content_type="application/json")
        if proxy.visible is not None:
            answer = json.dumps(await lagging(msg, proxy.visible)).encode()
            return web.Response(body=answer, content_type="application/json")
        return web.Response(body=await forward(body), content_type="application/json")

    async def forward(body: bytes) -> bytes:
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream, data=body, headers=headers) as r:
            return await r.read()

    async def stale(msg: Any) -> Any:
        """``msg``'s answer from a stale backend (``HeadsProxy.pinned``)."""
        calls = msg if isinstance(msg, list) else [msg]
        answers: list[Any] = []
        for call in calls:
            number = -1 if latest_read(call) else numbered(call)
            if number == -1 and latest_read(call):
                number = max(proxy.stale_blocks)
            if number in proxy.stale_blocks:
                proxy.pinned_reads += 1
                said = proxy.stale_blocks[number]
                answers.append({"jsonrpc": "2.0", "id": call.get("id"), "result": said})
                continue
            answers.append(json.loads(await forward(json.dumps(call).encode())))
        return answers if isinstance(msg, list) else answers[0]

    async def lagging(msg: Any, top: int) -> Any:
        """``msg``'s answer from a backend at block ``top`` (``HeadsProxy.visible``)."""
        calls = msg if isinstance(msg, list) else [msg]
        answers: list[Any] = []
        for call in calls:
            method, params = call.get("method"), list(call.get("params") or [])
            if method == "eth_blockNumber":
                answers.append({"jsonrpc": "2.0", "id": call.get("id"), "result": hex(top)})
                continue
            if method == "eth_getBlockByNumber" and params and params[0] == "latest":
                params[0] = hex(top)
            elif method == "eth_getBlockByNumber" and _above(params, top):
                proxy.hidden += 1
                answers.append({"jsonrpc": "2.0", "id": call.get("id"), "result": None})
                continue
            asked = json.dumps({**call, "params": params}).encode()
            answers.append(json.loads(await forward(asked)))
        return answers if isinstance(msg, list) else answers[0]

    async def socket(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(status=405)
        ours = web.WebSocketResponse()
        await ours.prepare(request)
        entry: tuple[web.WebSocketResponse, str] | None = None
        async with session.ws_connect(ws_upstream) as theirs:

            async def down() -> None:
                nonlocal entry
                async for msg in theirs:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    body = json.loads(msg.data)
                    if isinstance(body, dict) and body.get("method") == "eth_subscription":
                        note = body["params"]["result"]
                        if not proxy.passes(note):
                            proxy.dropped.append(note)
                            continue
                        if proxy.late:
                            proxy.queued.append((ours, msg.data))
                            continue
                        if proxy.rewrite is not None:
                            note = body["params"]["result"] = proxy.rewrite(note)
                            proxy.sent.append(note)
                            await ours.send_str(json.dumps(body))
                            continue
                        proxy.sent.append(note)
                    elif isinstance(body, dict) and isinstance(body.get("result"), str):
                        entry = (ours, body["result"])  # (the subscription's id)
                        proxy._sockets.append(entry)
                    await ours.send_str(msg.data)

            task = asyncio.ensure_future(down())
            try:
                async for msg in ours:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    await theirs.send_str(msg.data)
            finally:
                task.cancel()
                with suppress(asyncio.CancelledError, Exception):
                    await task
                if entry is not None:
                    proxy._sockets.remove(entry)
        return ours

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/", post)
    app.router.add_get("/", socket)
    runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        proxy.url = f"http://{host}:{port}/"
        yield proxy
    finally:
        await proxy.free()
        for ws, _ in list(proxy._sockets):
            await ws.close()
        await runner.cleanup()
        await session.close()


def numbered(call: dict[str, Any]) -> int:
    """The block number ``call`` reads the header of (-1: none, or not by number)."""
    params = call.get("params")
    if call.get("method") != "eth_getBlockByNumber" or not params:
        return -1
    number = str(params[0])
    return int(number, 16) if number.startswith("0x") else -1


def _above(params: list[Any], top: int) -> bool:
    """Whether ``eth_getBlockByNumber``'s ``params`` ask for a numbered block above ``top``."""
    return bool(params) and str(params[0]).startswith("0x") and int(params[0], 16) > top
