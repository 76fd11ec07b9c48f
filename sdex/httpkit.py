"""HTTP helpers shared by the node's API and the peer routes (``/p2p/``): the SRA error
body as an exception, bounded JSON reading, per-client token-bucket rate limiting, trusted
proxies; which client a bound counts (``client_group``, ``client_path``) and the per-client
slots (``ClientSlots``) are ``sdex.clientnet``'s, named here too.

Nothing here knows the node: limits are passed in."""

from __future__ import annotations

import asyncio
import heapq
import ipaddress
import math
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from sdex import jsonio
from sdex.clientnet import IPV6_CLIENT_PREFIX as IPV6_CLIENT_PREFIX
from sdex.clientnet import IPV6_WIDER_PREFIXES as IPV6_WIDER_PREFIXES
from sdex.clientnet import ClientSlots as ClientSlots
from sdex.clientnet import client_group as client_group
from sdex.clientnet import client_path as client_path
from sdex.clientnet import path_caps as path_caps
from sdex.errors import JsonLimitError
from sdex.model import VALIDATION_FAILED, error_body, field_error_body

MAX_JSON_DEPTH = 8
"""An order is flat and a peer's batch is a list of them: anything nested deeper than this
is refused before it is parsed."""


BODY_TIMEOUT = 30.0
"""Seconds a request's body may take to come, from when its handler starts reading it: a
body sent a byte at a time kept its handler (and its connection, busy, never reclaimed as
idle) for as long as the client liked. 64 KiB in 30 s is 2 KiB/s; a peer's largest body
(``MAX_P2P_BODY``, 4 MiB) needs ~140 KB/s."""

MAX_FORWARDED_HOPS = 16
"""``X-Forwarded-For`` entries read, from the right: past them the nearest trusted proxy is
the client (a chain of more trusted proxies than this is no deployment's)."""

FORWARDED_FOR = "X-Forwarded-For"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> Network:
    """A trusted proxy's ``--trusted-proxy``: an address (``10.0.0.5``, ``::1``) or a network
    (``10.0.0.0/8``); ``ValueError`` naming it otherwise (host bits set: ``10.0.0.5/8``)."""
    try:
        return ipaddress.ip_network(text.strip())
    except ValueError as e:
        raise ValueError(f"--trusted-proxy {text!r} is not an address or a network: {e}") from None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address (an IPv4-mapped IPv6 one as its IPv4 one), or None."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


class TrustedProxies:
    """The reverse proxies whose ``X-Forwarded-For`` is believed (``--trusted-proxy``; none
    by default): behind one every client connects from its address, and would share one
    client's bounds. From anyone else the header is ignored: a client could name itself
    anyone."""

    def __init__(self, networks: tuple[Network, ...] = ()) -> None:
        self.networks = networks
        self._hops: dict[str, tuple[str, bool, bool] | None] = {}
        """``_hop``'s answers so far (at most ``MEMO`` of them, each at most 64 characters)."""

    MEMO = 4096

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        """Whether ``address`` (a peer's, a header's entry: text) is a trusted proxy's."""
        if not self.networks or not isinstance(address, str):
            return False
        hop = self._hop(address)
        return hop is not None and hop[1]

    def _hop(self, text: str) -> tuple[str, bool, bool] | None:
        """``text`` as an address (its canonical text), whether it is a trusted proxy's and
        whether it is a loopback address, or None if it is not an address; remembered (a
        request's parse was ~7 us a hop)."""
        try:
            return self._hops[text]
        except KeyError:
            pass
        ip = _ip(text) if len(text) <= 64 else None  # (an address's text is shorter)
        hop = (
            None
            if ip is None
            else (str(ip), any(ip in net for net in self.networks), ip.is_loopback)
        )
        if len(self._hops) >= self.MEMO:  # (bounded: the texts come from the network)
            self._hops.clear()
        self._hops[text] = hop
        return hop

    def client(self, peer: str | None, forwarded: list[str]) -> str | None:
        """The client a request from ``peer`` with these ``X-Forwarded-For`` values came
        from: ``peer`` unless it is a trusted proxy; else the rightmost entry that is not
        one (each entry was written by the trusted proxy on its right). A malformed entry
        (not a bare address: a name, ``unknown``, a port, an empty one), or only trusted
        ones, or more than ``MAX_FORWARDED_HOPS`` read: the nearest trusted proxy, whose
        bounds it then shares; nothing left of it is believed. So too a loopback entry
        written by a hop not on this machine (one to its right, or ``peer``, is not loopback):
        it is that hop's own loopback, never this node's. review20: any host of a trusted
        network (``--trusted-proxy 10.0.0.0/8``) that sent ``X-Forwarded-For: 127.0.0.1``
        was a loopback client, answered by ``/admin/links`` and ``/web/dev-wallets``."""
        if peer is None or peer not in self:
            return peer
        client = peer
        # whether every hop so far (``peer``, the trusted entries read) is on this machine
        local = bool((hop := self._hop(peer)) and hop[2])
        hops = 0
        for value in reversed(forwarded):
            for entry in reversed(value.rsplit(",", MAX_FORWARDED_HOPS - hops)):
                hops += 1
                if hops > MAX_FORWARDED_HOPS:
                    return client
                hop = self._hop(entry.strip(" \t"))
                if hop is None or (hop[2] and not local):
                    return client
                client, trusted, loopback = hop
                local = local and loopback
                if not trusted:
                    return client
        return client

    def middleware(self) -> Middleware:
        """An aiohttp middleware (first, before any bound is counted) that hands the
        handlers the request as from its ``client``: ``request.remote`` is then the
        forwarded client's, for every per-client bound and loopback check."""

        @web.middleware
        async def forwarded(request: web.Request, handler: Handler) -> web.StreamResponse:
            peer = request.remote
            if peer in self:
                client = self.client(peer, request.headers.getall(FORWARDED_FOR, []))
                if client is not None and client != peer:
                    request = request.clone(remote=client)
            return await handler(request)

        return forwarded


NO_PROXIES = TrustedProxies()


def trust_proxies(app: web.Application, proxies: TrustedProxies) -> None:
    """Make ``proxies``' middleware ``app``'s outermost, if there are any: call it once every
    other middleware is in place (``sdex.node.sending`` puts its own first), so that each
    sees the forwarded client."""
    if proxies:
        app.middlewares.insert(0, proxies.middleware())


class ApiError(Exception):
    """A 4xx answer with the SRA error body."""

    def __init__(
        self,
        status: int,
        code: int,
        reason: str,
        errors: list[dict[str, object]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.body = error_body(code, reason, errors or ())
        self.headers = headers or {}

    @classmethod
    def field(cls, name: str, field_code: int, reason: str) -> ApiError:
        error = cls(400, VALIDATION_FAILED, "Validation Failed")
        error.body = field_error_body(name, field_code, reason)
        return error

    def response(self) -> web.Response:
        return web.json_response(self.body, status=self.status, headers=self.headers)


@dataclass(frozen=True)
class RateLimit:
    """Per-client token bucket: ``burst`` requests at once, ``rate`` per second sustained
    (a request may cost more than one token: ``RateLimiter.take``)."""

    rate: float = 10_000.0
    burst: int = 20_000

    def __post_init__(self) -> None:
        # A rate of 0 would divide by zero in Retry-After; a burst of 0 admits nothing.
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise ValueError(f"a rate limit's rate must be a positive number, not {self.rate!r}")
        if self.burst < 1:
            raise ValueError(f"a rate limit's burst must be at least 1, not {self.burst!r}")


MAX_CLIENTS = 16_384
"""Buckets a ``RateLimiter`` holds at most (~300 bytes each: ~5 MB). Past it the full ones
are dropped (a full bucket is no entry), then, if more than 3/4 of this are left, all but
the half most recently used (a client dropped so gets a full bucket: it has been idle
longer than this many others). Between the 60 s sweeps the map grew with every distinct
client: one /48 behind a trusted proxy, or many IPv4 addresses, without bound (limits34)."""


class RateLimiter:
    """Token buckets per client address, at most ``max_clients`` of them (``MAX_CLIENTS``);
    old idle buckets are dropped now and then."""

    def __init__(self, limit: RateLimit, max_clients: int | None = None) -> None:
        self.rate = limit.rate
        self.burst = limit.burst
        self.max_clients = MAX_CLIENTS if max_clients is None else max(2, max_clients)
        self._limit = str(limit.burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._last_sweep = time.monotonic()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str, cost: float = 1.0) -> tuple[bool, dict[str, str]]:
        """Take ``cost`` tokens (at most ``burst``: a dearer request empties a full bucket)
        from ``client``'s bucket, or none if it holds fewer: whether it did, and the
        ``X-RateLimit-*`` headers (with ``Retry-After`` when it did not)."""
        now = time.monotonic()
        cost = min(cost, float(self.burst))
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        ok = tokens >= cost
        if ok:
            tokens -= cost
        buckets = self._buckets
        buckets[client] = (tokens, now)
        if now - self._last_sweep > 60.0 or len(buckets) > self.max_clients:
            self._sweep(now)
        headers = self._headers(tokens)
        if not ok:
            headers["Retry-After"] = str(max(1, math.ceil((cost - tokens) / self.rate)))
        return ok, headers

    def give_back(self, client: str, tokens: float) -> dict[str, str]:
        """Return ``tokens`` taken beyond what the request cost (a listing charged for a full
        page that returned fewer records); the headers for the bucket as it is now."""
        now = time.monotonic()
        held, at = self._buckets.get(client, (float(self.burst), now))
        held = min(float(self.burst), held + (now - at) * self.rate + max(0.0, tokens))
        self._buckets[client] = (held, now)
        if len(self._buckets) > self.max_clients:
            self._sweep(now)
        return self._headers(held)

    def left(self, client: str) -> float:
        """The tokens ``client``'s bucket holds now (nothing taken)."""
        now = time.monotonic()
        tokens, at = self._buckets.get(client, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - at) * self.rate)

    def charge(self, client: str, tokens: float) -> dict[str, str]:
        """Take ``tokens`` more than the request was charged first (it cost more than it
        could be known to before it ran), down to ``-burst`` at most: the client then waits
        for the refill; the headers for the bucket as it is now."""
        now = time.monotonic()
        held, at = self._buckets.get(client, (float(self.burst), now))
        held = min(float(self.burst), held + (now - at) * self.rate) - max(0.0, tokens)
        held = max(-float(self.burst), held)
        self._buckets[client] = (held, now)
        if len(self._buckets) > self.max_clients:
            self._sweep(now)
        return self._headers(held)

    def _headers(self, tokens: float) -> dict[str, str]:
        reset = math.ceil((self.burst - tokens) / self.rate) if self.rate > 0 else 0
        return {
            "X-RateLimit-Limit": self._limit,
            "X-RateLimit-Remaining": str(max(0, int(tokens))),
            "X-RateLimit-Reset": str(reset),
        }

    def _sweep(self, now: float) -> None:
        """Drop the full buckets (one in debt, ``charge``, counts its refill from below 0:
        the sweep by age alone forgave a debt of ``burst`` once idle ``burst / rate``), then,
        past ``max_clients``' 3/4, all but the half most recently used."""
        burst, rate = float(self.burst), self.rate
        kept = {k: v for k, v in self._buckets.items() if v[0] + (now - v[1]) * rate < burst}
        if len(kept) > self.max_clients * 3 // 4:
            recent = heapq.nlargest(self.max_clients // 2, kept.items(), key=lambda kv: kv[1][1])
            kept = dict(recent)
        self._buckets = kept
        self._last_sweep = now


WIDER_CLIENTS = 4
"""An IPv6 client's /56, and its /48, hold this many clients' budget of a ``NetworkLimiter``
in all: a site is routinely given a /56 or a /48 (RFC 6177), and its /64s each with a full
bucket had 256 or 65,536 times the rate (review33, limits34)."""


class NetworkLimiter:
    """A ``RateLimiter`` of clients (``client_group``) that charges every network a client is
    in too (``client_path``: an IPv6 /64's /56 and /48, each bucket ``wider`` clients' in
    all): a request is taken from each, or from none. The one way a per-client budget counts
    wider networks (the request and listing budgets, the chain reads' ``ReadBudget``); an
    IPv4 client, or a name, is its own bucket alone (one lookup more than a ``RateLimiter``)."""

    def __init__(
        self, limit: RateLimit, wider: int = WIDER_CLIENTS, max_clients: int | None = None
    ) -> None:
        self.own = RateLimiter(limit, max_clients)
        """The clients' own buckets (``take`` of a name here skips the wider networks)."""
        wider_limit = RateLimit(rate=limit.rate * wider, burst=limit.burst * wider)
        self.wider = RateLimiter(wider_limit, max_clients)
        self.rate = limit.rate
        self.burst = limit.burst

    def take(self, client: str, cost: float = 1.0) -> tuple[bool, dict[str, str]]:
        """``RateLimiter.take`` of ``client``'s bucket and each wider network's: when one
        holds too few, nothing is taken from any (the headers are the client's own, with the
        ``Retry-After`` of the one that refused)."""
        path = client_path(client)
        own = path[-1]
        ok, headers = self.own.take(own, cost)
        if not ok or len(path) == 1:
            return ok, headers
        for i, group in enumerate(path[:-1]):
            ok, refused = self.wider.take(group, cost)
            if not ok:
                for taken in path[:i]:
                    self.wider.give_back(taken, cost)
                headers = self.own.give_back(own, cost)
                headers["Retry-After"] = refused["Retry-After"]
                return False, headers
        return True, headers

    def give_back(self, client: str, tokens: float) -> dict[str, str]:
        """``RateLimiter.give_back`` to ``client`` and each wider network it is in."""
        *wider, own = client_path(client)
        for group in wider:
            self.wider.give_back(group, tokens)
        return self.own.give_back(own, tokens)

    def charge(self, client: str, tokens: float) -> dict[str, str]:
        """``RateLimiter.charge`` of ``client`` and each wider network it is in."""
        *wider, own = client_path(client)
        for group in wider:
            self.wider.charge(group, tokens)
        return self.own.charge(own, tokens)


async def read_json(
    request: web.Request, limit: int, untyped: bool = False, timeout: float = BODY_TIMEOUT
) -> dict[str, Any]:
    """The request's JSON object, strictly: size, content type, syntax, no floats, shallow.

    ``limit``: the largest body accepted, in bytes. Size and depth are checked before parsing
    (``sdex.jsonio``): a deeply nested body is a 400, never a crash. ``untyped``: a body sent
    with no ``Content-Type`` at all is read as JSON too (the public API's signed orders and
    cancels, which a script may post bare); any other type than ``application/json`` is a
    415. Without ``untyped`` (the loopback-only admin route) the header is required: a web
    page may POST a body with no type to a loopback address without the browser asking the
    node first (no CORS preflight), but not one typed ``application/json``. ``timeout``: the
    seconds the whole body may take to come (``read_bounded``)."""
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, 101, f"Request body too large: more than {limit} bytes")
    if request.content_type != "application/json" and not (
        untyped and hdrs.CONTENT_TYPE not in request.headers
    ):
        sent = request.headers.get(hdrs.CONTENT_TYPE)
        raise ApiError(
            415,
            101,
            f"Content-Type must be application/json, not {sent[:80]!r}"
            if sent is not None
            else "Content-Type must be application/json (none was sent)",
        )
    raw = await read_bounded(request, limit, timeout)
    try:
        obj = jsonio.loads(raw, max_bytes=limit, max_depth=MAX_JSON_DEPTH)
    except JsonLimitError as e:
        if e.too_large:
            raise ApiError(413, 101, f"Request body too large: {e.reason}") from None
        raise ApiError(400, 101, f"Malformed JSON: {e.reason}") from None
    if not isinstance(obj, dict):
        raise ApiError(400, 101, "Malformed JSON: the body must be a JSON object")
    return obj


CONTINUE_OWED = web.RequestKey("continue-owed", bool)
"""A request's state key: its ``Expect: 100-continue`` is not answered yet (``continued``)."""


async def continued(request: web.BaseRequest) -> None:
    """Send the interim 100 that a request's ``Expect: 100-continue`` asked for, if owed:
    ``sdex.node.headlimit.expectations_checked`` holds it back until the request passed its
    budget (``guard``'s; a peer's: its signature, ``sdex.gossip.gate``). gossip98: aiohttp
    sent it before any middleware, so a refused client was asked for its body all the same."""
    if request.pop(CONTINUE_OWED, False) and request.writer.output_size == 0:
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # (as aiohttp's: the answer has not begun)


async def read_bounded(request: web.Request, limit: int, timeout: float = BODY_TIMEOUT) -> bytes:
    """The body, read in chunks and refused as soon as it passes ``limit`` bytes (a body
    sent without Content-Length is never buffered past the limit), or once ``timeout``
    seconds passed before its end came (408). A body with a ``Content-Encoding`` (gzip,
    deflate) is refused unread, 415: review83, aiohttp inflated it before any bound here
    (~60 KiB sent, ~60 MB inflated to be refused 413; junk as gzip answered 500); the
    node's server no longer inflates one (``sdex.node.conns.BoundedRunner``)."""
    encoding = request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
    if encoding != "identity":
        raise ApiError(415, 101, f"Content-Encoding {encoding[:40]!r} is not taken: send it plain")
    content = request.content
    if content.is_eof():  # it came whole with its headers (an order's does): no timer, no loop
        body = content.read_nowait()
        if len(body) > limit:
            raise ApiError(413, 101, f"Request body too large: more than {limit} bytes")
        return body
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, 101, f"Request body too large: more than {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            408, 101, f"Request body not received within {timeout:g} s: {size} bytes came"
        ) from None
    return b"".join(chunks)


def ascii_int(raw: str, lo: int, hi: int) -> int | None:
    """``raw`` as an integer in ``lo..hi`` if it is plain ASCII digits (no sign, no space, no
    Unicode digits such as "²" that ``str.isdigit`` accepts and ``int`` refuses), else None."""
    if not (0 < len(raw) <= len(str(hi)) and raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if lo <= value <= hi else None
