"""The ``/p2p/`` routes a node serves to its peers.

Every request names its sender in the ``X-SDEX-Node`` header. A banned sender gets 403;
each sender has its own rate limit (429); bodies are bounded (``MAX_P2P_BODY``) and a
batch larger than the sender may send is refused. What a peer sends is never trusted: orders
go through the node's intake, cancels are checked against the maker's signature, and
settlement notices against the transaction's receipt.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from sdex.errors import OrderParseError
from sdex.gossip.gossip import NODE_HEADER, Gossip
from sdex.gossip.peers import normalize
from sdex.node.api import ApiError, RateLimiter, ascii_int, read_json
from sdex.node.config import RateLimit
from sdex.order import parse_hex_bytes

MAX_P2P_BODY = 4 * 1024 * 1024
MAX_BATCH = 1000
MAX_HASHES = 5000

GOSSIP_KEY = web.AppKey("gossip", Gossip)
PEER_LIMITER_KEY = web.AppKey("peer-limiter", RateLimiter)

Route = Callable[[web.Request, Gossip, str], Awaitable[web.StreamResponse]]


def p2p(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Identify, ban-check and rate-limit the sending peer, then run ``route``."""

    @functools.wraps(route)
    async def handler(request: web.Request) -> web.StreamResponse:
        gossip = request.app[GOSSIP_KEY]
        sender = request.headers.get(NODE_HEADER, "")
        if not sender:
            raise ApiError(400, 100, f"the {NODE_HEADER} header is required on /p2p/")
        sender = normalize(sender)
        if gossip.peers.is_banned(sender):
            raise ApiError(403, 100, "banned: this peer sent invalid data")
        if sender in gossip.links_blocked:  # the operator cut this link
            raise ApiError(503, 100, "this link is cut by the operator")
        ok, headers = request.app[PEER_LIMITER_KEY].take(sender)
        if not ok:
            raise ApiError(429, 103, "Throttled: too many requests", headers=headers)
        return await route(request, gossip, sender)

    return handler


@p2p
async def post_orders(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    body = await read_json(request, MAX_P2P_BODY)
    orders = body.get("orders")
    if not isinstance(orders, list) or len(orders) > MAX_BATCH:
        gossip.peers.penalize(sender)
        raise ApiError(400, 100, f"orders must be a list of at most {MAX_BATCH}")
    return web.json_response(await gossip.receive_orders(sender, orders))


@p2p
async def get_snapshot(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    after = _int(request.query.get("after", "0"), "after", 0, 2**62)
    limit = _int(request.query.get("limit", "500"), "limit", 1, MAX_BATCH)
    orders, nxt = gossip.node.snapshot_page(after, limit)
    return web.json_response({"orders": orders, "next": nxt})


@p2p
async def get_digest(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    return web.json_response({"buckets": gossip.node.digest()})


@p2p
async def post_hashes(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    body = await read_json(request, MAX_P2P_BODY)
    buckets = body.get("buckets")
    if not isinstance(buckets, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in buckets
    ):
        raise ApiError(400, 100, "buckets must be a list of integers in 0..255")
    return web.json_response({"hashes": gossip.node.hashes_in(buckets)})


@p2p
async def post_fetch(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    body = await read_json(request, MAX_P2P_BODY)
    hashes, why = body.get("hashes"), body.get("why", [])
    for value in (hashes, why):
        if (
            not isinstance(value, list)
            or len(value) > MAX_HASHES
            or not all(isinstance(h, str) for h in value)
        ):
            raise ApiError(400, 100, f"hashes/why must be lists of at most {MAX_HASHES} strings")
    assert isinstance(hashes, list) and isinstance(why, list)
    return web.json_response(
        {
            "orders": gossip.node.open_orders_by_hash(hashes),
            "cancels": gossip.node.cancel_proofs(why),
        }
    )


@p2p
async def post_hello(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    body = await read_json(request, 64 * 1024)
    gossip.peers.add(sender)
    for url in body.get("peers", [])[:64] if isinstance(body.get("peers"), list) else []:
        if isinstance(url, str):
            gossip.peers.add(url)
    return web.json_response({"peers": [gossip.me, *gossip.peers.urls()]})


@p2p
async def get_peers(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    return web.json_response({"peers": gossip.peers.to_json()})


@p2p
async def post_cancel(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    body = await read_json(request, 64 * 1024)
    result = gossip.node.cancel_notice(body, sender)
    return web.json_response(result.body, status=result.status)


@p2p
async def post_settlement(request: web.Request, gossip: Gossip, sender: str) -> web.Response:
    body = await read_json(request, 64 * 1024)
    tx = body.get("txHash")
    try:
        tx_bytes = parse_hex_bytes(tx, "txHash")
    except OrderParseError:
        tx_bytes = b""
    if len(tx_bytes) != 32:
        gossip.peers.penalize(sender)
        raise ApiError(400, 100, "txHash must be 0x and 64 hex digits")
    ok = await gossip.node.settlement_notice("0x" + tx_bytes.hex())
    return web.json_response({"applied": ok})


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
        peer = gossip.peers.get(url)
        if peer is not None:
            gossip.peers.ok(peer)  # no backoff left over from the cut
    return web.json_response({"blocked": sorted(gossip.links_blocked)})


def _int(raw: str, name: str, lo: int, hi: int) -> int:
    value = ascii_int(raw, lo, hi)
    if value is None:
        raise ApiError(400, 100, f"{name} must be an integer in {lo}..{hi}")
    return value


def add_routes(app: web.Application, gossip: Gossip, limit: RateLimit, admin: bool = False) -> None:
    app[GOSSIP_KEY] = gossip
    app[PEER_LIMITER_KEY] = RateLimiter(limit)
    app.router.add_post("/p2p/orders", post_orders)
    app.router.add_get("/p2p/snapshot", get_snapshot)
    app.router.add_get("/p2p/digest", get_digest)
    app.router.add_post("/p2p/hashes", post_hashes)
    app.router.add_post("/p2p/fetch", post_fetch)
    app.router.add_post("/p2p/hello", post_hello)
    app.router.add_get("/p2p/peers", get_peers)
    app.router.add_post("/p2p/cancels", post_cancel)
    app.router.add_post("/p2p/settlements", post_settlement)
    if admin:
        app.router.add_post("/admin/links", post_admin_links)
