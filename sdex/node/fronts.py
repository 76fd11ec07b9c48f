"""The node's front processes (``sdex node --fronts N``): started, watched, stopped.

With fronts the node does not accept connections itself: it binds the port and passes the
listening socket to ``N`` front processes (``sdex.node.front``), which do a wallet's
``POST /v1/orders`` up to its signature on cores of their own and pass every other request
on with its connection. This process stays the only writer of the book and the store.

What the node takes from a front without checking it again: an order's EIP-712 hash and
that its ECDSA signer is its maker (the two costly checks, the front's whole point), and
the client address the request came from (its rate limit and chain-read budget). The
rest is checked here as for any order: the fields' types and ranges (a malformed one is
the front's fault: a 500, logged), the node's rules, the chain state, the limits. Bad
input is answered here, by the node's own code: an order that did not parse or verify in
the front comes as its JSON; a body the front refused (size, depth, syntax, type,
``timeInForce``) as that answer, which this process sends only once the request's token
was taken (as ``sdex.node.api.guard``: 503 while starting, 429 over the rate).

The node counts the connections the fronts hold with its own (``sdex.node.conns``, one
``FrontConn`` each, ``_control``): the bounds per client and in all are exact over every
front, and a connection a front passes on keeps its slot (``ConnectionSlots.replace``).

The 2xx still follows the commit (``Node.submit``). A front that exits is started again
(logged); ``/health`` says how many run (``fronts``). The node stops them by their PIDs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sdex.errors import PortInUseError
from sdex.futures import retrieved
from sdex.httpkit import client_group
from sdex.jsonio import dumps_bytes
from sdex.matching import TimeInForce
from sdex.model import error_body
from sdex.node.api import order_config_of
from sdex.node.appstate import FRONTS_KEY, LIMITER_KEY, METRICS_KEY
from sdex.node.config import NodeConfig
from sdex.node.conns import BoundedServer, ConnectionSlots, FrontConn, refusal
from sdex.node.core import Node
from sdex.node.frontwire import ADMITTED, CID, CLOSE, Channel, HandoverReader, encode_answers
from sdex.node.headlimit import HeadBoundedHandler
from sdex.order import UINT64_MAX, Order, SignedOrder

log = logging.getLogger("sdex.fronts")

TIFS = {t.value: t for t in TimeInForce}
STARTING = {"Retry-After": "1"}
RESTART_PAUSE = 1.0
"""Seconds before a front that exited is started again."""
ROUTE = "/v1/orders"
CONFIG_ROUTE = "/v1/order_config"
READY_WAIT = 60.0
"""Seconds the fronts may take to start (an interpreter each: imports, the server), else
the node does not start."""

Answer = tuple[int, int, dict[str, str] | None, bytes]


PACKED = struct.Struct(">" + "12s20s" * 4 + "32s32s" + "12s20s" + "32s" * 3 + "65s32s")
"""A front's order (``sdex.node.front.fronted``): its ten ABI words (an address's split into
its 12 zero bytes and itself), signature, hash."""
PADS = (bytes(12),) * 5


def order_of(payload: object) -> SignedOrder:
    """A front's order (``sdex.node.front.fronted``), its types and ranges checked (an
    address word's top 12 bytes zero, the expiry a uint64; the rest fit by their size);
    ``ValueError`` if it is not what a front sends."""
    if type(payload) is not str or len(payload) != 2 * PACKED.size:
        raise ValueError("not a packed order")
    fields = PACKED.unpack(bytes.fromhex(payload))  # (ValueError if not hex)
    (p0, maker, p1, taker, p2, maker_token, p3, taker_token, maker_amount, taker_amount, p6,
     fee_recipient, fee_amount, expiry, salt, sig, h) = fields  # fmt: skip
    if (p0, p1, p2, p3, p6) != PADS:
        raise ValueError("an address word is not an address")
    end = int.from_bytes(expiry)
    if end > UINT64_MAX:
        raise ValueError("the expiry is not a uint64")
    order = Order(
        "0x" + maker.hex(),
        "0x" + taker.hex(),
        "0x" + maker_token.hex(),
        "0x" + taker_token.hex(),
        int.from_bytes(maker_amount),
        int.from_bytes(taker_amount),
        "0x" + fee_recipient.hex(),
        int.from_bytes(fee_amount),
        end,
        int.from_bytes(salt),
    )
    return SignedOrder(order, sig, h)


class Adopted(HeadBoundedHandler):
    """The node's handler of a connection a front passed on: the bytes the front read of
    it come first, before the socket is read (``connection_made`` runs before the loop
    watches the socket); it takes the slot the front's connection held (``held``)."""

    __slots__ = ("_first", "_held", "_slots")

    def __init__(
        self, first: bytes, held: FrontConn, slots: ConnectionSlots, *args: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._first, self._held, self._slots = first, held, slots

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._slots.replace(self._held, self)  # (else admitted anew: its slot was taken)
        super().connection_made(transport)
        first, self._first = self._first, b""
        if first:
            self.data_received(first)


@dataclass
class _Slot:
    proc: subprocess.Popen[bytes] | None = None
    channel: Channel | None = None
    reader: HandoverReader | None = None
    started: float = 0.0
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the front accepts connections (its first frame, an empty one)."""
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    conns: dict[int, FrontConn] = field(default_factory=dict)
    """The connections it holds by id, counted in the node's ``ConnectionSlots``."""


def front_processes(config: NodeConfig, node: Node, app: web.Application) -> Fronts | None:
    """The node's fronts (``--fronts``), or None: made before ``app`` is frozen."""
    return Fronts(config.fronts, node, app) if config.fronts > 0 else None


class Fronts:
    """``count`` front processes for ``node``'s ``app``: ``start`` binds the node's port
    and starts them; the connections they pass on are served by the node's own server."""

    def __init__(self, count: int, node: Node, app: web.Application) -> None:
        cfg = node.config
        self.node = node
        self.server: BoundedServer | None = None
        self.listen: socket.socket | None = None
        self.limiter, self.metrics = app[LIMITER_KEY], app[METRICS_KEY]
        app[FRONTS_KEY] = self
        self.slots = [_Slot() for _ in range(count)]
        self.restarts = 0
        self.verified = 0
        """Orders a front parsed, hashed and found signed by their makers."""
        self.stopping = False
        self.settings = {
            "chainId": node.domain.chain_id,
            "exchange": node.domain.verifying_contract,
            "maxBody": cfg.max_body,
            "bodyTimeout": cfg.body_timeout,
            "sendTimeout": cfg.send_timeout,
            "idleTimeout": cfg.http_idle_timeout,
            "trustedProxies": [str(n) for n in cfg.trusted_proxies],
        }
        self._watch: asyncio.Task[None] | None = None
        self._config: bytes | None = None
        """``GET /v1/order_config``'s body, made at its first request (the node's for life)."""

    def health(self) -> dict[str, object]:
        """``/health``'s ``fronts``: how many, running now (their PIDs), started again, and
        the connections they hold (as the node counts them), idle ones among them."""
        pids = [s.proc.pid for s in self.slots if s.proc is not None and s.proc.poll() is None]
        held = [c for s in self.slots for c in s.conns.values()]
        return {
            "connections": len(held),
            "idle": sum(not c.busy for c in held),
            "configured": len(self.slots),
            "running": len(pids),
            "pids": pids,
            "restarts": self.restarts,
            "verified": self.verified,
        }

    async def start(self, server: web.Server | None) -> None:
        """Bind the node's port (``PortInUseError`` if taken) and start every front."""
        assert isinstance(server, BoundedServer)
        cfg = self.node.config
        family = socket.AF_INET6 if ":" in cfg.host else socket.AF_INET
        try:
            self.listen = socket.create_server((cfg.host, cfg.port), family=family, backlog=1024)
        except OSError as e:
            raise PortInUseError(f"cannot listen on {cfg.host}:{cfg.port}: {e}") from None
        self.server = server
        for i in range(len(self.slots)):
            await self._spawn(i)
        waits = [asyncio.ensure_future(s.ready.wait()) for s in self.slots]
        try:  # (before the node says it listens: a request meanwhile would wait unserved)
            async with asyncio.timeout(READY_WAIT):
                await asyncio.gather(*waits)
        except TimeoutError:
            await self.stop()
            raise RuntimeError(
                f"the front processes did not start within {READY_WAIT:g} s"
            ) from None
        finally:
            for w in waits:
                w.cancel()
        self._watch = asyncio.create_task(self._watching())

    async def _spawn(self, i: int) -> None:
        loop = asyncio.get_running_loop()
        orders, orders_front = socket.socketpair()
        hand, hand_front = socket.socketpair()
        assert self.listen is not None
        fds = (self.listen.fileno(), orders_front.fileno(), hand_front.fileno())
        settings = {**self.settings, "listen": fds[0], "orders": fds[1], "handover": fds[2]}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "sdex.node.front", json.dumps(settings)], pass_fds=fds
            )
        finally:
            orders_front.close()
            hand_front.close()
        slot = self.slots[i]
        slot.proc, slot.started, slot.ready = proc, time.monotonic(), asyncio.Event()
        channel = slot.channel = Channel(lambda f: self._frame(slot, channel, f), encode_answers)
        await loop.connect_accepted_socket(lambda: channel, orders)
        slot.reader = HandoverReader(
            hand, lambda conn, got: self._adopt(slot, conn, got), lambda: self._ended(slot)
        )
        log.info("front %d started (pid %d)", i, proc.pid)

    def _ended(self, slot: _Slot) -> None:
        """A front's channel ended: it exited, or broke the wire (then it is stopped here);
        its connections end with it."""
        if slot.channel is not None:
            slot.channel.close()
        conns, slot.conns = slot.conns, {}
        if self.server is not None:
            for conn in conns.values():
                self.server.slots.release(conn)
        if slot.proc is not None and slot.proc.poll() is None and not self.stopping:
            slot.proc.kill()  # (by its PID: it is restarted by ``_watching``)

    async def _watching(self) -> None:
        while not self.stopping:
            await asyncio.sleep(0.2)
            for i, slot in enumerate(self.slots):
                if slot.proc is None or slot.proc.poll() is None or self.stopping:
                    continue
                log.error(
                    "front %d (pid %d) exited with %s: starting it again",
                    i, slot.proc.pid, slot.proc.returncode,
                )  # fmt: skip
                if slot.reader is not None:
                    slot.reader.close()
                slot.proc = None
                if time.monotonic() - slot.started < RESTART_PAUSE:
                    await asyncio.sleep(RESTART_PAUSE)
                if not self.stopping:
                    self.restarts += 1
                    await self._spawn(i)

    async def stop(self) -> None:
        """Stop every front by its PID (SIGTERM, then SIGKILL after 5 s)."""
        self.stopping = True
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        procs = [s.proc for s in self.slots if s.proc is not None and s.proc.poll() is None]
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                await asyncio.to_thread(p.wait, 5.0)
            except subprocess.TimeoutExpired:
                p.kill()
                await asyncio.to_thread(p.wait, 5.0)
        for s in self.slots:
            if s.reader is not None:
                s.reader.close()
            if s.channel is not None:
                s.channel.close()
        if self.listen is not None:
            self.listen.close()

    # -- the connections passed on --------------------------------------------------------

    def _adopt(self, slot: _Slot, conn: socket.socket, got: bytes) -> None:
        conn.setblocking(False)
        server = self.server
        assert server is not None
        kwargs: dict[str, Any] = server._kwargs  # (as ``BoundedServer.__call__``)
        (cid,) = CID.unpack_from(got) if len(got) >= CID.size else (0,)
        first = got[CID.size :]
        held = slot.conns.pop(cid, None) or FrontConn(lambda: None)  # (None: its slot was taken)
        held.busy = True  # (a request on it: not an idle one to close)

        def handler() -> Adopted:
            return Adopted(
                first, held, server.slots, server, loop=asyncio.get_running_loop(), **kwargs
            )

        def made_or_not(made: asyncio.Future[Any]) -> None:
            retrieved(made)
            if made.cancelled() or made.exception() is not None:
                server.slots.release(held)

        made = asyncio.ensure_future(
            asyncio.get_running_loop().connect_accepted_socket(handler, conn)
        )
        made.add_done_callback(made_or_not)

    def _control(self, slot: _Slot, channel: Channel, item: list[Any]) -> None:
        """A front's word on one of its connections (``sdex.node.frontwire``)."""
        kind, cid = item[0], item[1] if len(item) > 1 else None
        if type(cid) is not int or self.server is None:
            raise ValueError(f"not a connection's id: {cid!r}")
        slots = self.server.slots
        if kind == "o" and len(item) == 3 and cid not in slot.conns:
            address = item[2] if isinstance(item[2], str) else None

            def close() -> None:  # (the node took its slot: ``ConnectionSlots``)
                if slot.conns.pop(cid, None) is not None:
                    channel.add((cid, CLOSE, None, b""))

            conn = FrontConn(close)
            refused = slots.admit(conn, address, address not in slots.proxies)
            if refused is None:
                slot.conns[cid] = conn
                channel.add((cid, ADMITTED, None, b""))
            else:  # (written by the front as it is, the connection closed)
                channel.add((cid, refused[0], None, refusal(*refused)))
        elif kind in ("b", "i"):
            held = slot.conns.get(cid)
            if held is not None:
                held.busy = kind == "b"
        elif kind == "c":
            held = slot.conns.pop(cid, None)
            if held is not None:
                slots.release(held)
        else:
            raise ValueError(f"not a connection's word: {item!r:.200}")

    # -- the orders ---------------------------------------------------------------------

    def _frame(self, slot: _Slot, channel: Channel, frame: bytes) -> None:
        try:
            items = json.loads(frame)
            if not isinstance(items, list):
                raise ValueError("not a list")
            if not items:  # (its first: it accepts connections now)
                slot.ready.set()
                return
        except ValueError:
            log.error("a front sent a frame that does not parse: stopping it")
            self._ended(slot)
            return
        for item in items:  # (answered on ``channel``: a front started again numbers anew)
            if type(item) is list and item and type(item[0]) is str:
                try:
                    self._control(slot, channel, item)
                except ValueError as e:
                    log.error("a front sent a frame that is not one (%s): stopping it", e)
                    self._ended(slot)
                    return
                continue
            task = asyncio.ensure_future(self._order(channel, item))
            slot.tasks.add(task)
            task.add_done_callback(slot.tasks.discard)

    async def _order(self, channel: Channel, item: object) -> None:
        if not (isinstance(item, list) and len(item) == 6 and type(item[0]) is int):
            log.error("a front sent a request that is not one: %.200r", item)
            return
        rid, client, tif_raw, kind, payload, at = item
        began, now = time.perf_counter(), time.monotonic()
        # (when it came to the front: a held order's verdict is due from then, user81)
        arrived = min(at, now) if type(at) is float and math.isfinite(at) else now
        route = CONFIG_ROUTE if kind == "g" else ROUTE
        try:
            answer = await self._answer(str(client), tif_raw, kind, payload, arrived)
        except Exception:
            log.exception("unexpected error in a fronted %s", route)
            answer = 500, None, dumps_bytes(error_body(100, "internal error"))
        status, headers, body = answer
        self.metrics.request_done(route, status, time.perf_counter() - began)
        if not channel.closed.is_set():
            channel.add((rid, status, headers, body))

    async def _answer(
        self, client: str, tif_raw: object, kind: object, payload: Any, arrived: float
    ) -> tuple[int, dict[str, str] | None, bytes]:
        """``sdex.node.api``'s ``guard`` and ``post_order`` for a fronted request."""
        node = self.node
        if not node.started.is_set():
            body = error_body(100, "Starting: loading the stored orders; retry shortly")
            return 503, STARTING, json.dumps(body).encode()
        ok, rate = self.limiter.take(client_group(client))
        if not ok:
            body = error_body(103, "Throttled: too many requests")
            return 429, rate, json.dumps(body).encode()
        if kind == "e":  # the front's answer to a body it refused (``read_json``'s)
            status, err, headers = payload
            return int(status), {**rate, **headers}, json.dumps(err).encode()
        if kind == "g":  # ``GET /v1/order_config`` (``api.get_order_config``'s body)
            if self._config is None:
                self._config = json.dumps(order_config_of(node)).encode()
            return 200, rate, self._config
        tif = TIFS[tif_raw] if isinstance(tif_raw, str) else TimeInForce.GTC
        if kind == "v":
            self.verified += 1
            result = await node.submit(
                None, "api", tif, client, fronted=order_of(payload), arrived=arrived
            )
        elif kind == "j":
            result = await node.submit(payload, "api", tif, client, arrived=arrived)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        self.metrics.order_submitted(
            str(result.body.get("rejection", "accepted" if result.status < 300 else "rejected"))
        )
        text = result.text
        data = dumps_bytes(result.body) if text is None else text.encode("ascii")
        return result.status, {**rate, **(result.headers or {})}, data
