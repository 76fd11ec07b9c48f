"""Bounds on the node's HTTP connections: per client address and in all, idle ones first to go.

aiohttp alone takes every connection and keeps an idle keep-alive one for an hour (its
``keepalive_timeout``, 3,630 s): a client could hold thousands open doing nothing, each a
file descriptor (which the node's database, chain and peer links need too) and a request
handler's memory. So (``NodeConfig``):

- an idle connection (no request in progress: never sent one, or between two) is closed
  after ``http_idle_timeout`` seconds (30);
- one client address (an IPv6 one by its /64, ``sdex.httpkit.client_group``) holds at most
  ``max_http_per_client`` connections (512: the benchmark
  clients, all on 127.0.0.1, use at most 136, ``bench/gossip.py``'s 128 posts in flight),
  an IPv6 client's /56 and /48 at most 1/16 and 1/8 of ``max_http`` (never less than
  ``max_http_per_client``: ``sdex.httpkit.client_path``), and the node ``max_http`` in all
  (4,096, at most half the process's descriptor limit); websockets and peer streams count
  too. A trusted reverse proxy (``--trusted-proxy``) carries many clients: only the bound in
  all counts its connections, and they are no group's to give way at that bound;
- at either bound a new connection first closes the oldest idle one in its way (that
  address's or network's, or anyone's): a keep-alive client that goes idle loses nothing but
  a reconnect, and idle sockets never lock out a new client. At a network's bound with none
  idle, a /64 holding at least two fewer than the heaviest in that network takes the
  heaviest's oldest; else (and at the per-address bound) the new one is refused: a 429 with
  the SRA body, code 103, written at once, and closed;
- at the bound in all with none idle, the group holding the most connections gives up its
  oldest one (busy or not) to a new one from a group holding at least two fewer, compared
  widest first (an IPv4 address or an IPv6 /48; then, within the new one's own, its /56s,
  then its /64s): busy connections are cheap to make (a request body sent a byte at a time,
  a response never read, a websocket), and without this a few addresses at their own bound
  (8 x 512 = 4,096) held every slot and every other client got a 503, and one /48's 4,096
  /64s, one each, held them all. Only when all hold an equal share is the new one refused,
  503.

The counting hooks are ``web.Server``'s ``connection_made``/``connection_lost``, which every
aiohttp request handler calls on its server (``BoundedRunner`` makes the server).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import resource
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from prometheus_client import CollectorRegistry

from sdex.httpkit import NO_PROXIES, TrustedProxies, client_path, path_caps
from sdex.metrics import counter, counter_by, gauge
from sdex.model import THROTTLED, error_body
from sdex.node.headlimit import (
    EXPECT_REFUSED_KEY,
    REFUSED,
    HeadBoundedHandler,
    expectations_checked,
)
from sdex.node.writedeadline import STALLED, WRITE_TIMEOUT

SCAN = 64
"""Connections looked at for an idle one when a new one needs room (busy ones looked at go
to the back of the line): the work per accepted connection is bounded."""


class FrontConn:
    """A connection a front process holds (``sdex.node.fronts``), counted here as the node's
    own: ``busy`` while the front serves a request on it (the front says so; from its
    admission until the front read what came meanwhile); ``force_close`` asks the front to
    close it."""

    __slots__ = ("busy", "close")

    def __init__(self, close: Callable[[], None]) -> None:
        self.busy = True
        self.close = close

    def force_close(self) -> None:
        self.close()


Conn = RequestHandler | FrontConn


def idle(conn: Conn) -> bool:
    """No request in progress on ``conn``: it waits for the next one (aiohttp's own test
    before it closes a keep-alive connection), or its transport is already gone."""
    if type(conn) is FrontConn:
        return not conn.busy
    assert isinstance(conn, RequestHandler)
    if conn.transport is None:
        return True
    waiter = getattr(conn, "_waiter", None)  # (aiohttp's: set while it waits for a request)
    return waiter is not None and not waiter.done()


class _Tally:
    """The groups one level under one group (``client_path``) by the connections each holds,
    with one holding the most found in O(1)."""

    __slots__ = ("by_count", "most")

    def __init__(self) -> None:
        self.most = 0
        """The most one group holds."""
        self.by_count: dict[int, dict[str, None]] = {}
        """The groups holding each number of connections (none empty)."""

    def move(self, group: str, was: int, now: int) -> None:
        """``group`` went from ``was`` connections to ``now`` (one more or one fewer)."""
        if was:
            held = self.by_count[was]
            del held[group]
            if not held:
                del self.by_count[was]
                if self.most == was:
                    self.most = now  # (``group`` is at ``now``: the most, if any left)
        if now:
            same = self.by_count.get(now)
            if same is None:
                same = self.by_count[now] = {}
            same[group] = None
            if now > self.most:
                self.most = now

    def heaviest(self) -> str:
        return next(iter(self.by_count[self.most]))


class ConnectionSlots:
    """The open HTTP connections by client (``client_path``: an IPv6 client's /64 within its
    /56 within its /48), oldest first; see the module docstring."""

    def __init__(self, per_client: int, total: int, proxies: TrustedProxies = NO_PROXIES) -> None:
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        self.proxies = proxies
        """Whose connections carry many clients' requests: bounded only by ``total``."""
        self.per_client = per_client
        self.total = total if soft == resource.RLIM_INFINITY else min(total, soft // 2)
        self._caps = path_caps(per_client, self.total)
        self._by_client: dict[str, dict[Conn, None]] = {}
        """Each client's own group's connections (``client_path``'s last), oldest first."""
        self._all: dict[Conn, tuple[str, ...]] = {}
        self._held: dict[str, int] = {}
        """Connections held by each group of an open one's ``client_path`` (none at 0)."""
        self._tallies: dict[str, _Tally] = {}
        """Under each group (``""``: all), the connections of each group one level narrower
        (a group's name says its prefix: ``2001:db8::/56`` is under ``2001:db8::/48``); none
        empty."""
        self.reclaimed = 0
        """Idle connections closed to make room for a new one."""
        self.refused = 0
        """New connections refused (every one in the way was busy)."""
        self.evicted = 0
        """Busy connections closed to make room for a client holding fewer."""

    def __len__(self) -> int:
        return len(self._all)

    def held(self, group: str) -> int:
        """Connections held by ``group`` (one of a ``client_path``'s)."""
        return self._held.get(group, 0)

    def __contains__(self, conn: Conn) -> bool:
        return conn in self._all

    def admit(self, conn: Conn, client: str | None, bounded: bool = True) -> tuple[int, str] | None:
        """Count ``conn`` from ``client`` (an address or ``client_group``) in, making room if
        needed: None, or the (status, reason) it is refused with (then it is not counted).
        ``bounded=False`` (a trusted proxy's, many clients': ``sdex.httpkit.TrustedProxies``):
        no bound of its own, only the node's, and never a group that gives way."""
        path = client_path(client)
        if bounded:
            held = self._held
            for depth, cap in enumerate(self._caps[-len(path) :]):
                group = path[depth]
                if (
                    held.get(group, 0) >= cap
                    and not self._reclaim(self._heaviest_under(group))
                    and not self._take_for(path, depth + 1)
                ):
                    self.refused += 1
                    last = depth == len(path) - 1
                    where = "this address" if last else f"the network {group}"
                    return 429, f"too many connections from {where}: at most {cap}"
        if (
            len(self._all) >= self.total
            and not self._reclaim(self._all)
            and not self._take_for(path)
        ):
            self.refused += 1
            return 503, f"too many connections to this node: at most {self.total}"
        if not bounded:
            # Counted in all only, in no group's tally: a proxy carries many clients, so it
            # would always be the heaviest group, and a few direct addresses at the bound in
            # all evicted its users' requests one by one (review23). It takes room like a
            # client holding none; its idle connections still go first.
            self._all[conn] = ()
            return None
        self._move(path, 1)
        mine = self._by_client.get(path[-1])
        if mine is None:
            mine = self._by_client[path[-1]] = {}
        mine[conn] = None
        self._all[conn] = path
        return None

    def replace(self, old: Conn, new: Conn) -> bool:
        """``new`` holds ``old``'s slot (a front's connection the node serves now: the count
        never drops between them); False if ``old`` is not counted (it was closed)."""
        path = self._all.pop(old, None)
        if path is None:
            return False
        self._all[new] = path
        if path:
            mine = self._by_client[path[-1]]
            del mine[old]
            mine[new] = None
        return True

    def release(self, conn: Conn) -> None:
        """``conn`` is gone (or being closed): its slot is free. Idempotent."""
        path = self._all.pop(conn, None)
        if not path:  # (None: not counted; (): a trusted proxy's, in no group)
            return
        mine = self._by_client[path[-1]]
        del mine[conn]
        if not mine:
            del self._by_client[path[-1]]
        self._move(path, -1)

    def _move(self, path: tuple[str, ...], step: int) -> None:
        """Each group of ``path`` holds ``step`` (1 or -1) connections more."""
        held = self._held
        parent = ""
        for group in path:
            was = held.get(group, 0)
            now = was + step
            if now:
                held[group] = now
            else:
                del held[group]
            tally = self._tallies.get(parent)
            if tally is None:
                tally = self._tallies[parent] = _Tally()
            tally.move(group, was, now)
            if not tally.by_count:
                del self._tallies[parent]
            parent = group

    def _heaviest_under(self, group: str) -> dict[Conn, None]:
        """The connections of a client holding the most in ``group`` (which holds some),
        each level down its heaviest group."""
        while group not in self._by_client:
            group = self._tallies[group].heaviest()
        return self._by_client[group]

    def _take_for(self, path: tuple[str, ...], start: int = 0) -> bool:
        """Close the oldest connection (an idle one if any of the first ``SCAN``) of a client
        in the heaviest group, for a new one of ``path`` whose own group at that level holds at
        least two fewer: from the widest level (a /48, an IPv4 address; or, for a group at its
        own bound, the level under ``path[start - 1]``), then within its own group (its /56,
        then its /64). False if it holds as many as any at every level."""
        for depth in range(start, len(path)):
            tally = self._tallies.get(path[depth - 1] if depth else "")
            if tally is None:
                return False  # (its group holds none: nothing under it to take from)
            if tally.most >= self._held.get(path[depth], 0) + 2:
                heaviest = self._heaviest_under(tally.heaviest())
                if not self._reclaim(heaviest):
                    oldest = next(iter(heaviest))
                    self.release(oldest)
                    oldest.force_close()
                    self.evicted += 1
                return True
        return False

    def _reclaim(self, pool: dict[Conn, Any]) -> bool:
        """Close the oldest idle connection of ``pool`` (among the first ``SCAN``); False if
        none of those is idle."""
        for conn in list(itertools.islice(pool, SCAN)):
            if idle(conn):
                self.release(conn)
                conn.force_close()
                self.reclaimed += 1
                return True
            value = pool.pop(conn)  # busy: to the back of the line, looked at last next time
            pool[conn] = value
        return False


def refusal(status: int, reason: str) -> bytes:
    """A whole HTTP/1.1 answer, written before any request is read: the SRA body, closed."""
    body = json.dumps(error_body(THROTTLED, reason)).encode()
    phrase = "Too Many Requests" if status == 429 else "Service Unavailable"
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRetry-After: 5\r\nConnection: close\r\n"
        f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n\r\n"
    )
    return head.encode() + body


def _refuse(handler: RequestHandler, transport: asyncio.Transport, answer: bytes) -> None:
    """Write ``answer`` and close: the transport sends what it holds before it closes."""
    if not transport.is_closing():
        transport.write(answer)
    handler.force_close()


class BoundedServer(web.Server):
    """aiohttp's server, with each connection admitted by ``slots`` as it is made, and each
    request head bounded in bytes (``sdex.node.headlimit``)."""

    def __init__(self, slots: ConnectionSlots, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slots = slots

    def __call__(self) -> RequestHandler:
        return HeadBoundedHandler(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if handler in self.slots:  # (a front's connection, counted since its accept)
            return
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else None
        refused = self.slots.admit(handler, address, address not in self.slots.proxies)
        if refused is not None:  # (once the handler is set up: it starts its task next)
            asyncio.get_running_loop().call_soon(_refuse, handler, transport, refusal(*refused))

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self.slots.release(handler)
        super().connection_lost(handler, exc)


LINGER = 10.0
"""aiohttp's ``lingering_time``: the longest the rest of an unread body is read after the
answer (so that a client still sending it reads the answer, not a reset)."""


class BoundedRunner(web.AppRunner):
    """``web.AppRunner`` whose server is a ``BoundedServer``: the app is started as usual,
    then served by a server that admits connections through ``slots`` and closes idle ones
    after ``idle_timeout`` seconds. ``linger``: seconds the rest of a request body left unread
    by its answer (a 408, a 413) is still read and dropped before the connection closes
    (aiohttp's ``lingering_time``: at most ``LINGER``). ``write_timeout``: seconds a connection
    may hold answer bytes its client does not take (``sdex.node.writedeadline``). No request
    body is inflated (``auto_decompress`` off: an encoded one is refused,
    ``sdex.httpkit.read_bounded``)."""

    def __init__(
        self,
        app: web.Application,
        slots: ConnectionSlots | None,
        idle_timeout: float,
        shutdown_timeout: float = 2.0,
        linger: float = LINGER,
        server: Callable[..., web.Server] | None = None,
        write_timeout: float = WRITE_TIMEOUT,
    ) -> None:
        super().__init__(app, access_log=None, shutdown_timeout=shutdown_timeout)
        self.slots = slots
        self.server_type = server
        """Makes the server in place of ``BoundedServer(slots, ...)`` (a front's:
        ``sdex.node.front.FrontServer``, which asks the node)."""
        self.idle_timeout = idle_timeout
        self.linger = min(linger, LINGER)
        self.write_timeout = write_timeout
        """Seconds a connection may hold answer bytes the client does not take
        (``sdex.node.writedeadline``)."""

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # (the app's startup ran; its handler, frozen)
        make = self.server_type
        if make is None:
            assert self.slots is not None
            make = functools.partial(BoundedServer, self.slots)
        return make(
            # (every route's ``Expect``; the refusals charged and counted by the app's own)
            expectations_checked(plain.request_handler, self.app.get(EXPECT_REFUSED_KEY)),
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            access_log=None,
            keepalive_timeout=self.idle_timeout,
            lingering_time=self.linger,
            auto_decompress=False,  # (review83: an encoded body is refused, never inflated)
            write_timeout=self.write_timeout,  # (to each ``HeadBoundedHandler``)
        )


def add_metrics(registry: CollectorRegistry, slots: ConnectionSlots) -> None:
    """``sdex_http_connections`` (open now), and the counters
    ``sdex_http_connections_reclaimed_total``, ``sdex_http_connections_evicted_total`` and
    ``sdex_http_connections_refused_total`` and ``sdex_http_connections_unread_total``
    (``sdex.node.writedeadline``) (so far) on the node's ``/metrics``; and
    ``sdex_http_heads_refused_total`` by ``reason`` (``sdex.node.headlimit.REFUSED``)."""
    gauge(registry, "sdex_http_connections", "HTTP connections open", lambda: len(slots))
    counter(
        registry,
        "sdex_http_connections_reclaimed",
        "Idle HTTP connections closed to make room for a new one",
        lambda: slots.reclaimed,
    )
    counter(
        registry,
        "sdex_http_connections_refused",
        "New HTTP connections refused: every one in the way was busy",
        lambda: slots.refused,
    )
    counter(
        registry,
        "sdex_http_connections_evicted",
        "Busy HTTP connections of the client holding the most closed for a client holding fewer",
        lambda: slots.evicted,
    )
    counter(
        registry,
        "sdex_http_connections_unread",
        "HTTP connections aborted: answer bytes left unread past the send timeout",
        lambda: STALLED.count,
    )
    counter_by(
        registry,
        "sdex_http_heads_refused",
        "Request heads refused: past the head's bound (431) or malformed (400)",
        "reason",
        lambda: {"too_large": REFUSED.too_large, "malformed": REFUSED.bad},
    )
