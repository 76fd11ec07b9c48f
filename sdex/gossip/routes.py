"""The ``/p2p/`` routes a node serves to its peers.

Every request is signed by its sender's node key (``sdex.gossip.identity``); the handler
knows who is talking *before* it reads the body: an unsigned, stale or replayed request gets
401, a banned id 403, a sender over its rate limit 429 (per admitted id; ids not in the peer
table share one budget, so made-up keys buy nothing). Then the body is read (bounded), must
match its signed hash, and is parsed by ``sdex.jsonio`` (size and depth before parsing).
Every answer is signed over the request's signature, its status and its body.

What a peer sends is never trusted: orders go through the node's intake, cancels are checked
against the maker's signature, and settlement notices against the transaction's receipt.
"""

from __future__ import annotations

import functools
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from sdex import jsonio
from sdex.errors import JsonLimitError, OrderParseError
from sdex.gossip.gossip import Gossip
from sdex.gossip.identity import MAX_SKEW_MS, AuthError, SignedRequest, body_hash, verify_request
from sdex.gossip.peers import normalize
from sdex.httpkit import ApiError, RateLimit, RateLimiter, ascii_int, read_bounded, read_json
from sdex.order import parse_hex_bytes

MAX_P2P_BODY = 4 * 1024 * 1024
MAX_SMALL_BODY = 64 * 1024
MAX_BATCH = 1000
MAX_HASHES = 5000
MAX_DEPTH = 8
STRANGERS = "strangers"
"""The rate-limit bucket shared by every id that is not in the peer table."""

GOSSIP_KEY = web.AppKey("gossip", Gossip)
PEER_LIMITER_KEY = web.AppKey("peer-limiter", RateLimiter)
STRANGER_LIMITER_KEY = web.AppKey("stranger-limiter", RateLimiter)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = Callable[[Gossip, SignedRequest, dict[str, Any], web.Request], Awaitable[object]]


class ReplayGuard:
    """Signatures seen within the freshness window: the same signed request twice is refused."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()

    def fresh(self, signature: str) -> bool:
        now = time.monotonic()
        horizon = now - 2 * MAX_SKEW_MS / 1000
        while self._seen and next(iter(self._seen.values())) < horizon:
            self._seen.popitem(last=False)
        if signature in self._seen or len(self._seen) >= self.capacity:
            return False
        self._seen[signature] = now
        return True


REPLAY_KEY = web.AppKey("replay", ReplayGuard)


def p2p(max_body: int = MAX_SMALL_BODY) -> Callable[[Route], Callable[[web.Request], Any]]:
    """Verify the sender, ban-check and rate-limit it, read and check the body, run the
    route, and sign its answer."""

    def wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @functools.wraps(route)
        async def handler(request: web.Request) -> web.StreamResponse:
            gossip = request.app[GOSSIP_KEY]
            try:
                sender = verify_request(request.method, request.raw_path, dict(request.headers))
            except AuthError as e:
                raise ApiError(401, 100, str(e)) from None
            peers = gossip.peers
            if peers.is_banned(sender.node_id):
                raise ApiError(403, 100, "banned: this peer sent invalid data")
            known = peers.get(sender.node_id)
            if normalize(sender.url) in gossip.links_blocked or (
                known is not None and known.url in gossip.links_blocked
            ):
                raise ApiError(503, 100, "this link is cut by the operator")
            if known is not None:
                ok, headers = request.app[PEER_LIMITER_KEY].take(sender.node_id)
            else:
                ok, headers = request.app[STRANGER_LIMITER_KEY].take(STRANGERS)
            if not ok:
                raise ApiError(429, 103, "Throttled: too many requests", headers=headers)
            if not request.app[REPLAY_KEY].fresh(sender.signature):
                raise ApiError(401, 100, "this signed request was seen before (replay)")
            if request.content_length is not None and request.content_length > max_body:
                raise ApiError(413, 101, f"Request body too large: more than {max_body} bytes")
            raw = await read_bounded(request, max_body)
            if body_hash(raw) != sender.body_hash:
                raise ApiError(401, 100, "the body does not match its signed hash")
            body: dict[str, Any] = {}
            if raw:
                try:
                    obj = jsonio.loads(raw, max_bytes=max_body, max_depth=MAX_DEPTH)
                except JsonLimitError as e:
                    gossip.penalize(sender.node_id)
                    raise ApiError(400, 101, f"Malformed JSON: {e.reason}") from None
                if not isinstance(obj, dict):
                    gossip.penalize(sender.node_id)
                    raise ApiError(400, 101, "Malformed JSON: the body must be a JSON object")
                body = obj
            peers.seen(sender.node_id)
            result = await route(gossip, sender, body, request)
            data = json.dumps(result, separators=(",", ":")).encode()
            headers = gossip.key.answer_headers(sender.signature, 200, data)
            return web.Response(body=data, content_type="application/json", headers=headers)

        return handler

    return wrap


@p2p(MAX_P2P_BODY)
async def post_orders(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    orders = body.get("orders")
    if not isinstance(orders, list) or len(orders) > MAX_BATCH:
        gossip.penalize(sender.node_id)
        raise ApiError(400, 100, f"orders must be a list of at most {MAX_BATCH}")
    return await gossip.run_check(gossip.core.receive(sender.node_id, orders))


@p2p()
async def get_snapshot(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    after = _int(request.query.get("after", "0"), "after", 0, 2**62)
    limit = _int(request.query.get("limit", "500"), "limit", 1, MAX_BATCH)
    orders, nxt = gossip.node.snapshot_page(after, limit)
    return {"orders": orders, "next": nxt}


@p2p()
async def get_digest(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    return {"buckets": gossip.node.digest()}


@p2p()
async def post_hashes(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    buckets = body.get("buckets")
    if (
        not isinstance(buckets, list)
        or len(buckets) > 256
        or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in buckets)
    ):
        raise ApiError(400, 100, "buckets must be a list of integers in 0..255")
    return {"hashes": gossip.node.hashes_in(buckets)}


@p2p(MAX_P2P_BODY)
async def post_fetch(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    hashes, why = body.get("hashes"), body.get("why", [])
    for value in (hashes, why):
        if (
            not isinstance(value, list)
            or len(value) > MAX_HASHES
            or not all(isinstance(h, str) for h in value)
        ):
            raise ApiError(400, 100, f"hashes/why must be lists of at most {MAX_HASHES} strings")
    assert isinstance(hashes, list) and isinstance(why, list)
    return {
        "orders": gossip.node.open_orders_by_hash(hashes),
        "cancels": gossip.node.cancel_proofs(why),
    }


@p2p()
async def post_hello(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    """A signed hello: the sender's claimed URL is dialled back before it is trusted."""
    return gossip.core.hello(sender.node_id, sender.url, body)


@p2p()
async def get_peers(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    return {"peers": gossip.peers.to_json()}


@p2p()
async def post_cancel(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    result = gossip.node.cancel_notice(body, sender.node_id)
    if result.status >= 300:
        raise ApiError(result.status, 100, str(result.body.get("reason", "refused")))
    return result.body


@p2p()
async def post_settlement(
    gossip: Gossip, sender: SignedRequest, body: dict[str, Any], request: web.Request
) -> object:
    tx = body.get("txHash")
    try:
        tx_bytes = parse_hex_bytes(tx, "txHash")
    except OrderParseError:
        tx_bytes = b""
    if len(tx_bytes) != 32:
        gossip.penalize(sender.node_id)
        raise ApiError(400, 100, "txHash must be 0x and 64 hex digits")
    ok = await gossip.node.settlement_notice("0x" + tx_bytes.hex())
    return {"applied": ok}


async def post_admin_links(request: web.Request) -> web.Response:
    """``{"block": [url...], "unblock": [url...]}``: cut or restore gossip links with peers,
    both ways (a network partition, on purpose). Loopback clients only."""
    if request.remote not in ("127.0.0.1", "::1"):
        raise ApiError(403, 100, "admin routes answer loopback clients only")
    gossip = request.app[GOSSIP_KEY]
    body = await read_json(request, 64 * 1024)
    for key in ("block", "unblock"):
        urls = body.get(key, [])
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ApiError(400, 100, f"{key} must be a list of peer URLs")
    for url in body.get("block", []):
        gossip.links_blocked.add(normalize(url))
    for url in body.get("unblock", []):
        gossip.links_blocked.discard(normalize(url))
        peer = gossip.peers.by_url(url)
        if peer is not None:
            gossip.peers.ok(peer)  # no backoff left over from the cut
    return web.json_response({"blocked": sorted(gossip.links_blocked)})


def _int(raw: str, name: str, lo: int, hi: int) -> int:
    value = ascii_int(raw, lo, hi)
    if value is None:
        raise ApiError(400, 100, f"{name} must be an integer in {lo}..{hi}")
    return value


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused peer request gets its error body here (the parent app adds metrics)."""
    try:
        return await handler(request)
    except ApiError as e:
        return e.response()


def p2p_app(gossip: Gossip, limit: RateLimit) -> web.Application:
    """The ``/p2p/`` routes as an aiohttp sub-application (mounted under ``/p2p/``)."""
    app = web.Application(middlewares=[_errors])
    app[GOSSIP_KEY] = gossip
    app[PEER_LIMITER_KEY] = RateLimiter(limit)
    app[STRANGER_LIMITER_KEY] = RateLimiter(RateLimit(rate=limit.rate / 4, burst=limit.burst // 4))
    app[REPLAY_KEY] = ReplayGuard()
    app.router.add_post("/orders", post_orders)
    app.router.add_get("/snapshot", get_snapshot)
    app.router.add_get("/digest", get_digest)
    app.router.add_post("/hashes", post_hashes)
    app.router.add_post("/fetch", post_fetch)
    app.router.add_post("/hello", post_hello)
    app.router.add_get("/peers", get_peers)
    app.router.add_post("/cancels", post_cancel)
    app.router.add_post("/settlements", post_settlement)
    return app


def add_routes(app: web.Application, gossip: Gossip, limit: RateLimit, admin: bool = False) -> None:
    """Mount ``/p2p/`` on ``app`` (and ``/admin/links`` when ``admin``)."""
    app[GOSSIP_KEY] = gossip
    app.add_subapp("/p2p/", p2p_app(gossip, limit))
    if admin:
        app.router.add_post("/admin/links", post_admin_links)
