"""A node's front process (``sdex node --fronts N``; started and watched by ``sdex.node.fronts``).

The fronts accept the node's HTTP connections (the listening socket is the node's, passed
on). A front does the stateless part of a wallet's ``POST /v1/orders`` on a core of its own:
the request, the body's bounds and JSON (``sdex.httpkit.read_json``, the node's own), the
``timeInForce``, the order's parse, its EIP-712 hash and its ECDSA signer. An order signed
by its maker goes to the node as its fields, signature and hash; one that is not (a parse
error, a contract wallet's signature) as its JSON, which the node takes through its own
path, so every answer is the node's. The node answers once the order is committed.

Any other request passes to the node with its connection (``sdex.node.frontwire``): the
node serves it, and the connection's later requests, as if it had accepted it itself.

Run as ``python -m sdex.node.front JSON`` (the settings and the descriptors passed on).
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
from typing import Any

from aiohttp import web

from sdex.errors import FieldCode, OrderParseError
from sdex.gossip.stream import MAX_P2P_BODY
from sdex.httpkit import ApiError, TrustedProxies, parse_network, read_bounded, read_json
from sdex.ingest.ecrecover import signer_of
from sdex.ingest.intake import SIGNATURE_HEX
from sdex.node.conns import BoundedRunner, ConnectionSlots
from sdex.node.frontwire import Channel, decode_answers, encode_requests, send_handover
from sdex.order import Domain, SignedOrder

JSON_TYPE = {"Content-Type": "application/json; charset=utf-8"}
TIFS = ("gtc", "ioc", "fok")
HANDOVER_WAIT = 10.0
"""Seconds a connection's hand-over may wait for the node to read it (its loop's turn)."""
DROPPED = (b"content-length", b"transfer-encoding", b"expect")
"""Header fields not passed on with a handed-over request: its body goes whole, with its
length."""


def fronted(obj: dict[str, Any], domain: Domain) -> list[object] | None:
    """``obj``'s order as the node takes it from a front (fields, signature, hash), if it
    parses and its ECDSA signer is its maker; else None (the node judges its JSON)."""
    sig = obj.get("signature")
    if isinstance(sig, str) and len(sig) > SIGNATURE_HEX:
        return None
    try:
        so = SignedOrder.from_json(obj, domain)
    except OrderParseError:
        return None
    if signer_of(so.hash, so.signature) != so.order.maker:
        return None
    o = so.order
    return [o.maker, o.taker, o.maker_token, o.taker_token, o.maker_amount, o.taker_amount,
            o.fee_recipient, o.fee_amount, o.expiry, o.salt, so.signature.hex(),
            so.hash.hex()]  # fmt: skip


def remade(request: web.Request, body: bytes) -> bytes:
    """``request``'s head as the client sent it (its body's framing aside) and its body."""
    v = request.version
    lines = [f"{request.method} {request.raw_path} HTTP/{v.major}.{v.minor}\r\n".encode()]
    lines += [
        k + b": " + val + b"\r\n" for k, val in request.raw_headers if k.lower() not in DROPPED
    ]
    if body or request.body_exists:
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    return b"".join(lines) + body


class Front:
    def __init__(self, settings: dict[str, Any], channel: Channel, handover: socket.socket) -> None:
        self.domain = Domain(int(settings["chainId"]), str(settings["exchange"]))
        self.limit = int(settings["maxBody"])
        self.timeout = float(settings["bodyTimeout"])
        self.channel = channel
        self.handover = handover
        self.waiting: dict[int, asyncio.Future[tuple[int, dict[str, str] | None, bytes]]] = {}
        self.next_id = 0

    def answers(self, frame: bytes) -> None:
        for rid, status, headers, body in decode_answers(frame):
            fut = self.waiting.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result((status, headers, body))

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "POST" and request.path == "/v1/orders":
            return await self.order(request)
        return await self.hand_over(request)

    async def order(self, request: web.Request) -> web.StreamResponse:
        try:
            obj = await read_json(request, self.limit, untyped=True, timeout=self.timeout)
            tif = obj.pop("timeInForce", "gtc")
            if tif not in TIFS or not isinstance(tif, str):
                raise ApiError.field(
                    "timeInForce",
                    FieldCode.UNSUPPORTED_OPTION,
                    "timeInForce must be gtc, ioc or fok",
                )
            verified = fronted(obj, self.domain)
            kind, payload = ("v", verified) if verified is not None else ("j", obj)
        except ApiError as e:  # (the node answers it: its rate limit first, as ``guard``)
            tif, kind, payload = "gtc", "e", [e.status, e.body, e.headers]
        rid = self.next_id = self.next_id + 1
        fut = self.waiting[rid] = asyncio.get_running_loop().create_future()
        self.channel.add([rid, request.remote or "", tif, kind, payload])
        try:
            status, headers, body = await fut
        finally:
            self.waiting.pop(rid, None)
        return web.Response(
            body=body, status=status, headers=JSON_TYPE if not headers else {**JSON_TYPE, **headers}
        )

    async def hand_over(self, request: web.Request) -> web.StreamResponse:
        body = b""
        if request.body_exists:
            try:
                body = await read_bounded(request, MAX_P2P_BODY, self.timeout)
            except ApiError as e:
                return e.response()
        sock = request.transport.get_extra_info("socket") if request.transport else None
        if sock is None:
            raise web.HTTPServiceUnavailable()
        try:
            send_handover(self.handover, sock.fileno(), remade(request, body))
        except OSError:  # (the node did not take it within ``HANDOVER_WAIT``: gone or stuck)
            return ApiError(503, 100, "the node is not taking requests; retry").response()
        assert request.transport is not None
        request.transport.abort()  # (this process's descriptor only: the node holds it now)
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
    proxies = TrustedProxies(tuple(parse_network(n) for n in settings["trustedProxies"]))
    if proxies:
        app.middlewares.append(proxies.middleware())
    slots = ConnectionSlots(int(settings["maxHttpPerClient"]), int(settings["maxHttp"]), proxies)
    runner = BoundedRunner(app, slots, float(settings["idleTimeout"]), linger=front.timeout)
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
