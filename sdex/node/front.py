"""A node's front process (``sdex node --fronts N``; started and watched by ``sdex.node.fronts``).

The fronts accept the node's HTTP connections (the listening socket is the node's, passed
on). A front does the stateless part of a wallet's ``POST /v1/orders`` on a core of its own:
the request, the body's bounds and JSON (``sdex.httpkit.read_json``, the node's own), the
``timeInForce``, the order's parse, its EIP-712 hash and its ECDSA signer. An order signed
by its maker goes to the node as its fields, signature and hash; one that is not (a parse
error, a contract wallet's signature) as its JSON, which the node takes through its own
path, so every answer is the node's. The node answers once the order is committed.

Any other request passes to the node with its connection (``sdex.node.frontwire``) and
every byte read of it since that request began: the node serves it, and the connection's
later requests, as if it had accepted it itself. The node counts the connections a front
holds as its own (``sdex.node.conns``' bounds, exact over all fronts): a front serves a
connection only once the node admitted it, and says when a request on it begins and ends.

Run as ``python -m sdex.node.front JSON`` (the settings and the descriptors passed on).
"""

from __future__ import annotations

import asyncio
import functools
import json
import signal
import socket
import sys
import time
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from sdex.errors import FieldCode, OrderParseError
from sdex.gossip.stream import MAX_P2P_BODY
from sdex.httpkit import ApiError, TrustedProxies, continued, parse_network, read_json
from sdex.ingest.ecrecover import signer_of
from sdex.ingest.rules import SIGNATURE_HEX
from sdex.node.conns import BoundedRunner
from sdex.node.frontwire import (
    ADMITTED,
    CID,
    CLOSE,
    MAX_FRAME,
    Channel,
    decode_answers,
    encode_requests,
    send_handover,
)
from sdex.node.headlimit import EXPECT_REFUSED_KEY, HeadBoundedHandler
from sdex.order import Domain, SignedOrder

JSON_TYPE = {"Content-Type": "application/json; charset=utf-8"}
TIFS = ("gtc", "ioc", "fok")
HANDOVER_WAIT = 10.0
"""Seconds a connection's hand-over may wait for the node to read it (its loop's turn)."""
MAX_RAW = MAX_FRAME - CID.size
"""Bytes of a connection kept for its hand-over at most (a hand-over frame's)."""


def fronted(obj: dict[str, Any], domain: Domain) -> str | None:
    """``obj``'s order as the node takes it from a front, if it parses and its ECDSA signer is
    its maker (else None: the node judges its JSON): hex of its ten ABI words, signature and
    hash (``sdex.node.fronts.order_of``; front65: the node's loop read a JSON list of twelve
    and checked each field's text, ~12 us an order, ~3 this way)."""
    sig = obj.get("signature")
    if isinstance(sig, str) and len(sig) > SIGNATURE_HEX:
        return None
    try:
        so = SignedOrder.from_json(obj, domain)
    except OrderParseError:
        return None
    if signer_of(so.hash, so.signature) != so.order.maker:
        return None
    return (so.order.abi_words() + so.signature + so.hash).hex()


class FrontHandler(HeadBoundedHandler):
    """A front's connection: its id (the node counts it by it), and ``raw``, every byte it
    sent since its current request began (None once they cannot be told apart: its next
    answer closes it), handed to the node as sent with its socket.

    The node counts a connection it just admitted as busy until the front says otherwise
    (``settle``): its first bytes may already be here, unread while it waited, and a newcomer
    meanwhile must not close it as idle."""

    __slots__ = ("cid", "handed", "raw", "said")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cid = 0
        self.handed = False
        self.raw: bytearray | None = bytearray()
        self.said: Channel | None = None
        """Where to say the connection is idle once admitted, if it is (then None)."""

    def data_received(self, data: bytes) -> None:
        raw = self.raw
        if raw is not None:
            if len(raw) + len(data) > MAX_RAW:
                self.raw = None
            else:
                raw += data
        queued = len(self._messages)
        super().data_received(data)
        if self.said is not None:
            if len(self._messages) > queued:  # a request began: its handler says so
                self.said = None
            else:
                self.settle()

    def settle(self) -> None:
        """Tell the node this admitted connection is idle, unless a request began on it."""
        channel, self.said = self.said, None
        if channel is not None:
            channel.add(["i", self.cid])


def consumed(handler: FrontHandler, request: web.Request) -> bool:
    """Drop ``request``'s bytes (its head, its ``Content-Length`` body) from the front of
    ``handler.raw``: what is left is what the client sent after it. False (and ``raw`` None)
    if they cannot be told apart (a chunked or unread body, a head not where expected)."""
    raw, n = handler.raw, request.content_length
    if n is None and request.method == "GET":
        n = 0  # (no Content-Length, no Transfer-Encoding: no body; the latter checked below)
    end = -1 if raw is None else raw.find(b"\r\n\r\n") + 4
    if (
        raw is None
        or n is None
        or end < 4
        or len(raw) < end + n
        or "Transfer-Encoding" in request.headers
        or not raw.startswith(request.method.encode())
    ):
        handler.raw = None
        return False
    del raw[: end + n]
    return True


class FrontServer(web.Server):
    """aiohttp's server for a front: each connection a ``FrontHandler``, told to ``front``
    as it is made and lost (the node counts it)."""

    def __init__(self, front: Front, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.front = front

    def __call__(self) -> RequestHandler:
        return FrontHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        assert isinstance(handler, FrontHandler)
        self.front.opened(handler, transport)

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        assert isinstance(handler, FrontHandler)
        self.front.closed(handler)
        super().connection_lost(handler, exc)


class Front:
    def __init__(self, settings: dict[str, Any], channel: Channel, handover: socket.socket) -> None:
        self.domain = Domain(int(settings["chainId"]), str(settings["exchange"]))
        self.limit = int(settings["maxBody"])
        self.timeout = float(settings["bodyTimeout"])
        self.channel = channel
        self.handover = handover
        self.waiting: dict[int, asyncio.Future[tuple[int, dict[str, str] | None, bytes]]] = {}
        self.conns: dict[int, FrontHandler] = {}
        """The connections open here by id (one numbering with the orders' requests)."""
        self.next_id = 0

    def opened(self, handler: FrontHandler, transport: asyncio.Transport) -> None:
        """Ask the node to count ``handler``'s connection; nothing of it is read meanwhile."""
        cid = self.next_id = self.next_id + 1
        handler.cid = cid
        self.conns[cid] = handler
        transport.pause_reading()
        peer = transport.get_extra_info("peername")
        self.channel.add(["o", cid, str(peer[0]) if isinstance(peer, tuple) and peer else None])

    def closed(self, handler: FrontHandler) -> None:
        if self.conns.pop(handler.cid, None) is not None and not handler.handed:
            self.channel.add(["c", handler.cid])

    def answers(self, frame: bytes) -> None:
        for rid, status, headers, body in decode_answers(frame):
            fut = self.waiting.pop(rid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result((status, headers, body))
                continue
            conn = self.conns.get(rid)
            transport = None if conn is None else conn.transport
            if conn is None or transport is None or conn.handed:
                continue
            if status == ADMITTED:
                transport.resume_reading()
                conn.said = self.channel
                # (after the loop's next look at the socket: what was sent meanwhile is read)
                loop = asyncio.get_running_loop()
                loop.call_soon(loop.call_soon, conn.settle)
                continue
            if status != CLOSE and not transport.is_closing():
                transport.write(body)  # (the node's refusal, whole: ``sdex.node.conns.refusal``)
            conn.force_close()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/v1/orders":
            return await self.order(request)
        if (
            request.method == "GET"
            and request.path == "/v1/order_config"
            and not request.query_string
        ):
            # (answered here, by the node's word: a wallet that asks it first and then posts
            # on the same keep-alive connection, as ``sdex.client.NodeClient`` does, keeps
            # its connection at the front; any other request passes it to the node for good)
            return await self.ask(request, "g", None)
        return await self.hand_over(request)

    async def order(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()  # (before its body: its client's 10 s count that too)
        handler = request.protocol
        assert isinstance(handler, FrontHandler)
        self.channel.add(["b", handler.cid])
        try:
            await continued(request)  # (the node's budget is checked after: ``sdex.node.fronts``)
            obj = await read_json(request, self.limit, untyped=True, timeout=self.timeout)
            tif = obj.pop("timeInForce", "gtc")
            if tif not in TIFS or not isinstance(tif, str):
                raise ApiError.field(
                    "timeInForce",
                    FieldCode.UNSUPPORTED_OPTION,
                    "timeInForce must be gtc, ioc or fok",
                )
            verified = fronted(obj, self.domain)
            payload: object = verified if verified is not None else obj
            kind = "v" if verified is not None else "j"
        except ApiError as e:  # (the node answers it: its rate limit first, as ``guard``)
            tif, kind, payload = "gtc", "e", [e.status, e.body, e.headers]
        return await self.ask(request, kind, payload, tif, said=True, arrived=arrived)

    async def ask(
        self, request: web.Request, kind: str, payload: object, tif: str = "gtc",
        said: bool = False, arrived: float | None = None,
    ) -> web.StreamResponse:  # fmt: skip
        """The node's answer to ``request`` (``kind``, ``payload``: ``sdex.node.fronts``),
        written here; the connection stays here unless its bytes cannot be told apart.
        ``said``: its ``"b"`` word was sent already. ``arrived``: when it came here
        (``time.monotonic()``, one clock for every process of the machine; None: now)."""
        since = time.monotonic() if arrived is None else arrived
        handler = request.protocol
        assert isinstance(handler, FrontHandler)
        if not said:
            self.channel.add(["b", handler.cid])
        rid = self.next_id = self.next_id + 1
        fut = self.waiting[rid] = asyncio.get_running_loop().create_future()
        self.channel.add([rid, request.remote or "", tif, kind, payload, since])
        try:
            status, headers, body = await fut
        finally:
            self.waiting.pop(rid, None)
        response = web.Response(
            body=body, status=status, headers=JSON_TYPE if not headers else {**JSON_TYPE, **headers}
        )
        if not consumed(handler, request):  # (a later request could not be handed over whole)
            response.force_close()
        await response.prepare(request)
        await response.write_eof()
        self.channel.add(["i", handler.cid])
        return response

    async def expect_refused(
        self, request: BaseRequest, _refused: web.Response
    ) -> web.StreamResponse:
        """A request refused 417 (``sdex.node.headlimit``) is the node's to answer (charged to
        its client's budget and counted, as there), so handed over as any other."""
        return await self.hand_over(request)

    async def hand_over(self, request: BaseRequest) -> web.StreamResponse:
        """Pass the connection to the node with every byte read of it since this request
        began, as sent: its head, what came of its body, any request pipelined behind it."""
        handler, transport = request.protocol, request.transport
        assert isinstance(handler, FrontHandler)
        sock = None if transport is None else transport.get_extra_info("socket")
        if handler.raw is None or sock is None or transport is None:  # (never, but for a bug)
            response = ApiError(503, 100, "retry on a new connection").response()
            response.force_close()
            return response
        try:
            send_handover(self.handover, sock.fileno(), CID.pack(handler.cid) + bytes(handler.raw))
        except OSError:  # (the node did not take it within ``HANDOVER_WAIT``: gone or stuck)
            response = ApiError(503, 100, "the node is not taking requests; retry").response()
            response.force_close()
            return response
        handler.handed, handler.raw = True, None
        transport.abort()  # (this process's descriptor only: the node holds it now)
        return web.Response(status=204)  # (never written: the transport is gone)


async def run(settings: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    handover = socket.socket(fileno=int(settings["handover"]))
    handover.settimeout(HANDOVER_WAIT)
    front: Front | None = None
    orders = socket.socket(fileno=int(settings["orders"]))
    _, channel = await loop.connect_accepted_socket(
        lambda: Channel(lambda f: front.answers(f) if front else None, encode_requests), orders
    )
    front = Front(settings, channel, handover)
    app = web.Application(client_max_size=MAX_P2P_BODY)
    app.router.add_route("*", "/{tail:.*}", front.handle)
    app[EXPECT_REFUSED_KEY] = front.expect_refused
    proxies = TrustedProxies(tuple(parse_network(n) for n in settings["trustedProxies"]))
    if proxies:
        app.middlewares.append(proxies.middleware())
    runner = BoundedRunner(
        app,
        None,
        float(settings["idleTimeout"]),
        linger=front.timeout,
        server=functools.partial(FrontServer, front),
        write_timeout=float(settings["sendTimeout"]),
    )
    await runner.setup()
    listen = socket.socket(fileno=int(settings["listen"]))
    await web.SockSite(runner, listen).start()
    channel.say_ready()  # (the node waits for it before it says it listens)
    ended = asyncio.ensure_future(channel.closed.wait())  # (the node is gone: so is this)
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait((ended, stopped), return_when=asyncio.FIRST_COMPLETED)
    for t in (ended, stopped):
        t.cancel()
    await runner.cleanup()


def main() -> None:
    asyncio.run(run(json.loads(sys.argv[1])))


if __name__ == "__main__":
    main()
