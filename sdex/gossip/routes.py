"""The ``/p2p/`` routes a node serves to its peers.

Every request is signed by its sender's node key (``sdex.gossip.identity``); the handler
knows who is talking *before* it reads the body: an unsigned, stale or replayed request, or
one addressed to another node id (``X-SDEX-To``; a hello may name none), gets 401, a banned
id 403, a sender over its rate limit 429 (per admitted id; ids not in the peer table share
one budget, so made-up keys buy nothing; their hellos one per client address, so a new
node's hello is heard whatever other strangers ask: ``gate.HELLOS``). Then the body is read
(bounded), must match its signed hash, and is parsed by ``sdex.jsonio`` (size and depth
before parsing).
A request refused before its sender was proved and admitted (``Refused``) is charged to its
client address: one that spent its budget of refusals is answered 429 before any header is
parsed or key recovered (``sdex.gossip.refusals``), and a refusal closes a connection whose
unread body is large. Refusals are counted (``/health`` ``gossip.refusals``), never logged.
Every answer is signed over the request's signature, its status and its body. The checks before the
body is read, and the answer to a refused request, are ``sdex.gossip.gate``'s.

``GET /p2p/stream`` upgrades a signed request from an admitted peer to a websocket that
carries its later calls as MAC'd frames (``sdex.gossip.stream``). Each frame passes the same
checks but the signature (ban, cut link, rate limit, body size and shape) and runs the same
route function (``ROUTES``) as its HTTP twin; a hello stays HTTP (it proves a URL).

What a peer sends is never trusted: orders go through the node's intake, cancels are checked
against the maker's signature, and settlement notices against the transaction's receipt.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from sdex import jsonio
from sdex.errors import JsonLimitError, OrderParseError
from sdex.gossip import stream
from sdex.gossip.admin import links_route
from sdex.gossip.asked import Asked, Route, paid
from sdex.gossip.budgets import CANCEL_TOKENS, DIGEST_TOKENS, WHY_A_UNIT
from sdex.gossip.cancelstored import stored_or_503
from sdex.gossip.client import ANSWER_ROOM
from sdex.gossip.gate import (
    GOSSIP_KEY,
    HELLO_LIMITER_KEY,
    HELLOS,
    PEER_LIMITER_KEY,
    REPLAY_KEY,
    STRANGER_LIMITER_KEY,
    STRANGERS,
    Handler,
    Refused,
    admit,
    charge,
    errors,
    in_debt,
    intake_spent,
    signed,
    spent,
)
from sdex.gossip.gossip import Gossip
from sdex.gossip.identity import body_hash
from sdex.gossip.listing import LISTED_PER_TOKEN, MAX_LISTED, listing, starts_of
from sdex.gossip.metered import Meter, metered
from sdex.gossip.payload import json_size
from sdex.gossip.peers import MAX_PEERS
from sdex.gossip.replay import ReplayGuard
from sdex.gossip.served import Served
from sdex.gossip.stream import MAX_P2P_BODY as MAX_P2P_BODY
from sdex.httpkit import (
    ApiError,
    NetworkLimiter,
    RateLimit,
    RateLimiter,
    ascii_int,
    continued,
    read_bounded,
)
from sdex.order import parse_hex_bytes
from sdex.sqlwriter import StoreError

RETRY = {"Retry-After": "1"}
MAX_SMALL_BODY = 64 * 1024
MAX_BATCH = 1000
MAX_HASHES = 5000
MAX_DEPTH = 8
MAX_SERVED_STREAMS = 2 * MAX_PEERS
"""Streams peers may hold open to this node at once (each peer keeps at most two)."""
STREAM_OPENS = 32
"""Stream upgrades a peer's full rate-limit budget pays for: each costs this share of its
burst (two ECDSA recoveries, an ECDH, a signature and a handshake: not one request's cost),
so a proved peer reopening streams in a loop gets 32 at once, then rate/burst x 32 a second
(16 a second at the defaults), not 2,000."""


def _object(gossip: Gossip, sender: str, obj: object) -> dict[str, Any]:
    if not isinstance(obj, dict):
        gossip.penalize(sender)
        raise ApiError(400, 101, "Malformed JSON: the body must be a JSON object")
    return obj


def p2p(route: Route, max_body: int) -> Handler:
    """``route`` over HTTP: verify the sender, admit it, read and check the body, run the
    route, and sign its answer. An admitted peer's request addressed here pays for the loop
    time it took (``gate.spent``)."""

    @functools.wraps(route)
    async def handler(request: web.Request) -> web.StreamResponse:
        meter, peer = Meter(), [""]
        try:
            return await metered(_answer(request, route, max_body, peer), meter)
        finally:
            if peer[0]:
                gossip = request.app[GOSSIP_KEY]
                spent(request.app, gossip, peer[0], meter.seconds, push=route is post_orders)

    return handler


async def _answer(
    request: web.Request, route: Route, max_body: int, peer: list[str]
) -> web.StreamResponse:
    """``p2p``'s handling of one request; ``peer[0]`` set to its sender once it is proved an
    admitted peer that addressed this node (what it then costs is measured)."""
    gossip = request.app[GOSSIP_KEY]
    sender = signed(request, anyone=route is post_hello)
    addressed = sender.to == gossip.key.node_id
    if addressed and gossip.peers.get(sender.node_id) is not None:
        peer[0] = sender.node_id
    if request.content_length is not None and request.content_length > max_body:
        raise ApiError(413, 101, f"Request body too large: more than {max_body} bytes")
    await continued(request)  # (its ``Expect: 100-continue``: once proved, not before)
    raw = await read_bounded(request, max_body)
    if body_hash(raw) != sender.body_hash:
        raise Refused(401, 100, "the body does not match its signed hash")
    body: dict[str, Any] = {}
    if raw:
        try:
            obj = jsonio.loads(raw, max_bytes=max_body, max_depth=MAX_DEPTH)
        except JsonLimitError as e:
            gossip.penalize(sender.node_id)
            raise ApiError(400, 101, f"Malformed JSON: {e.reason}") from None
        body = _object(gossip, sender.node_id, obj)
    if addressed:
        gossip.peers.seen(sender.node_id)
    remote = request.remote or ""
    more = (
        paid
        if peer[0]
        else functools.partial(charge, request.app, gossip, sender.node_id, addressed)
    )
    asked = Asked(
        sender.node_id, sender.url, body, request.query, addressed, sender.to, remote, more
    )
    status, extra = 200, {}
    try:
        result = await _run(route, gossip, asked)
    except Refused:
        raise
    except ApiError as e:  # (the route's own answer, signed: a peer tells it from a path's)
        status, result, extra = e.status, e.body, e.headers
    data = json.dumps(result, separators=(",", ":")).encode()
    headers = {**extra, **gossip.key.answer_headers(sender.signature, status, data)}
    return web.Response(body=data, status=status, content_type="application/json", headers=headers)


async def get_stream(request: web.Request) -> web.StreamResponse:
    """A signed websocket upgrade: the stream an admitted peer sends its calls on."""
    gossip = request.app[GOSSIP_KEY]
    streams = gossip.streams
    if streams is None:
        raise ApiError(404, 100, "this node takes no streams")
    sender = signed(request)
    peer = gossip.peers.get(sender.node_id)
    if peer is None:
        raise ApiError(403, 100, "say hello first: streams are for admitted peers")
    if request.query.get("to", "").lower() != gossip.key.node_id.lower():
        # the signed upgrade names the node it is for: one replayed elsewhere is refused
        raise ApiError(401, 100, "this stream upgrade is addressed to another node")
    limiter = request.app[PEER_LIMITER_KEY]
    ok, headers = limiter.take(sender.node_id, limiter.burst / STREAM_OPENS)
    if not ok:
        raise ApiError(429, 103, "Throttled: too many streams opened", headers=headers)
    if streams.served_count() >= MAX_SERVED_STREAMS:
        raise ApiError(503, 100, "this node serves as many streams as it can")
    nonce = request.query.get("nonce", "")
    try:
        theirs = bytes.fromhex(nonce) if len(nonce) == 64 and nonce.isascii() else b""
    except ValueError:
        theirs = b""
    if len(theirs) != stream.NONCE:
        raise ApiError(400, 100, "nonce must be 64 hex digits")
    ws = web.WebSocketResponse(max_msg_size=MAX_P2P_BODY + stream.ENVELOPE, compress=False)
    await ws.prepare(request)
    codec = await stream.accept(ws, gossip.key, peer.key, sender.key, sender.signature, theirs)

    async def dispatch(
        method: str, path: str, query: Mapping[str, str], body: object, size: int
    ) -> tuple[int, object]:
        try:
            return 200, await _frame(
                request.app, gossip, peer.key, peer.url, method, path, query, body, size
            )
        except ApiError as e:
            return e.status, e.body

    def admit(size: int) -> bool:
        """A frame is charged to its peer before its JSON is read (a token; the rest of what
        it took once answered: ``spent``); a peer no longer in the table (evicted, replaced)
        keeps no stream."""
        if gossip.peers.get(peer.key) is None or size > MAX_P2P_BODY + stream.ENVELOPE:
            return False
        if not limiter.take(peer.key)[0]:
            gossip.peer_costs.throttled += 1
            return False
        return True

    def answer_now(
        method: str, path: str, query: Mapping[str, str], body: object, size: int
    ) -> tuple[int, object] | None:
        try:
            return _frame_now(request.app, gossip, peer.key, peer.url, method, path, body, size)
        except ApiError as e:
            return e.status, e.body

    grouped = request.query.get("acks") == "1"  # (a dialer that takes grouped answers)

    def paid(seconds: float, path: str) -> None:  # (a push at its intake's price: flood79)
        spent(request.app, gossip, peer.key, seconds, push=path == "/orders")

    served = Served(
        ws, peer.key, codec, dispatch, gossip.penalize, admit, grouped, answer_now, paid
    )
    await streams.serve(served)
    return ws


async def _frame(
    app: web.Application,
    gossip: Gossip,
    sender: str,
    url: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    body: object,
    size: int,
) -> object:
    """One request that came as a stream frame: the checks of ``p2p`` but the signature
    (the stream's MAC proved it), then the same route."""
    found = STREAM_ROUTES.get((method, path))
    if found is None:
        raise ApiError(404, 100, f"no stream route {method} {path}")
    route, max_body = found
    admit(app, gossip, sender, url, charge=False)
    if size > max_body + stream.ENVELOPE:
        raise ApiError(413, 101, f"Request body too large: more than {max_body} bytes")
    obj = {} if body is None else _object(gossip, sender, body)
    asked = Asked(sender, url, obj, query, charge=paid)  # (its loop time: ``Served.spent``)
    gossip.peers.seen(sender)
    return await _run(route, gossip, asked)


async def _run(route: Route, gossip: Gossip, asked: Asked) -> object:
    """``route``'s answer; 503 (retry later) if the store refused its read or write (a lock
    another connection holds past the writer's busy timeout, a full disk): gossip70, found
    by chaos69: a peer got 500 and the node logged a traceback, where a wallet's order
    route answers 503."""
    try:
        return await route(gossip, asked)
    except StoreError as e:
        raise ApiError(503, 100, f"the store is busy ({e}); retry", headers=RETRY) from None


def _frame_now(
    app: web.Application,
    gossip: Gossip,
    sender: str,
    url: str,
    method: str,
    path: str,
    body: object,
    size: int,
) -> tuple[int, object] | None:
    """A push frame whose orders are all held here already, answered in the stream reader's
    own turn (no task, no queue): ``_frame``'s checks, then ``post_orders``'s, the same
    answer. ``None``, nothing done, for any other frame: it takes ``_frame``'s path."""
    if (method, path) != ("POST", "/orders") or not isinstance(body, dict):
        return None
    orders = body.get("orders")
    if not isinstance(orders, list) or not orders or len(orders) > MAX_BATCH:
        return None
    if size > MAX_P2P_BODY + stream.ENVELOPE or not gossip.holds_all(sender, orders):
        return None
    admit(app, gossip, sender, url, charge=False)
    gossip.peers.seen(sender)
    counts = gossip.answer_known(sender, orders, body.get("also"), body.get("more"))
    return None if counts is None else (200, counts)


async def post_orders(gossip: Gossip, q: Asked) -> object:
    orders = q.body.get("orders")
    if not isinstance(orders, list) or len(orders) > MAX_BATCH:
        gossip.penalize(q.sender)
        raise ApiError(400, 100, f"orders must be a list of at most {MAX_BATCH}")
    also, more = q.body.get("also"), q.body.get("more")
    return await gossip.run_check(gossip.core.receive(q.sender, orders, also, more))


async def get_snapshot(gossip: Gossip, q: Asked) -> object:
    """A page of the open orders, bounded by each peer's budget (strangers' together:
    ``snapshot_budget``), never below one order a page (the bootstrap goes on, slower)."""
    after = _int(q.query.get("after", "0"), "after", 0, 2**62)
    limit = _int(q.query.get("limit", "500"), "limit", 1, MAX_BATCH)
    budget, who = gossip.snapshots, _owner(gossip, q)
    orders, nxt = gossip.node.snapshot_page(
        after, min(limit, max(1, budget.most(who))), ANSWER_ROOM
    )
    budget.spend(who, len(orders))
    return {"orders": orders, "next": nxt}


def _owner(gossip: Gossip, q: Asked) -> str:
    """Whose budget an answer spends: an admitted peer's own, or all strangers' together."""
    return q.sender if q.addressed and gossip.peers.get(q.sender) is not None else STRANGERS


async def get_cancelled(gossip: Gossip, q: Asked) -> object:
    """A page of the orders soft-cancelled here (each with its maker's signed cancel): a
    node bootstrapping from us learns the cancels of orders it never held (attack38). As
    many as each peer's budget allows (strangers' together: ``cancelled_budget``), never
    fewer than one (the walk goes on, slower)."""
    after = _int(q.query.get("after", "0"), "after", 0, 2**62)
    limit = _int(q.query.get("limit", "500"), "limit", 1, MAX_BATCH)
    budget, who = gossip.cancelled_pages, _owner(gossip, q)
    most = min(limit, max(1, budget.most(who)))
    budget.spend(who, most)  # (before the store read: concurrent pages see it; review71)
    orders, nxt = await gossip.node.cancelled_page(after, most, ANSWER_ROOM)
    budget.spend(who, len(orders) - most)
    return {"orders": orders, "next": nxt}


async def get_digest(gossip: Gossip, q: Asked) -> object:
    q.charge(DIGEST_TOKENS - 1)  # (its answer costs the loop more than a token buys)
    return {"buckets": gossip.node.digest()}


async def post_hashes(gossip: Gossip, q: Asked) -> object:
    buckets = q.body.get("buckets")
    if (
        not isinstance(buckets, list)
        or len(buckets) > 256
        or not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in buckets)
    ):
        raise ApiError(400, 100, "buckets must be a list of integers in 0..255")
    try:
        starts = starts_of(q.body.get("from"))
    except ValueError as e:
        raise ApiError(400, 100, str(e)) from None
    budget = gossip.listings if q.addressed and gossip.peers.get(q.sender) is not None else None
    most = MAX_LISTED if budget is None else budget.most(q.sender)  # (strangers: ``charge``)
    answer = listing(gossip.node, buckets, most, starts=starts)  # (bounded: see ``listing``)
    if budget is not None:
        budget.spend(q.sender, len(answer["hashes"]))
    q.charge(len(answer["hashes"]) / LISTED_PER_TOKEN)
    return answer


async def post_fetch(gossip: Gossip, q: Asked) -> object:
    hashes, why = q.body.get("hashes"), q.body.get("why", [])
    for value in (hashes, why):
        if (
            not isinstance(value, list)
            or len(value) > MAX_HASHES
            or not all(isinstance(h, str) for h in value)
        ):
            raise ApiError(400, 100, f"hashes/why must be lists of at most {MAX_HASHES} strings")
    assert isinstance(hashes, list) and isinstance(why, list)
    # each peer's orders answered a second bounded, strangers' together (``fetch_budget``):
    # over it the first few asked are answered, the rest asked again next round
    budget, who = gossip.fetches, _owner(gossip, q)
    most = budget.most(who)
    hashes, why = hashes[:most], why[: most * WHY_A_UNIT]
    # spent before the store read, what is not answered given back after (review71: spent
    # after it, each of a peer's concurrent fetches read the whole budget before any spent)
    budget.spend(who, len(hashes) + len(why) / WHY_A_UNIT)
    cancels = await gossip.node.cancel_proofs(why)  # (<= 5,000 of ~230 bytes: they fit)
    room = ANSWER_ROOM - sum(json_size(c) + 1 for c in cancels)
    orders = gossip.node.open_orders_by_hash(hashes, room)
    budget.spend(who, len(orders) - len(hashes))
    return {"orders": orders, "cancels": cancels}


async def post_hello(gossip: Gossip, q: Asked) -> object:
    """A signed hello: the sender's claimed URL is dialled back before it is trusted. What
    one signed for no node or another may introduce or graft: ``GossipCore.hello``."""
    return gossip.hello(q.sender, q.url, q.body, to=q.to, address=q.address)


async def get_peers(gossip: Gossip, q: Asked) -> object:
    return {"peers": gossip.peers.to_json()}


async def post_cancel(gossip: Gossip, q: Asked) -> object:
    """A peer's soft cancel; one kept for an order not held here is answered once its row is
    committed (cancel66: answered before, a crash lost a cancel the peer was told was kept).
    Its signature is recovered on the loop: ``CANCEL_TOKENS``."""
    q.charge(CANCEL_TOKENS - 1)
    result = gossip.node.cancel_notice(q.body, q.sender, q.address)
    if result.status >= 300:
        raise ApiError(result.status, 100, str(result.body.get("reason", "refused")))
    if result.stored is not None:  # (bounded: the node's ``store_wait``; the commit goes on)
        await stored_or_503(result, asyncio.shield(result.stored))
    return result.body


async def post_settlement(gossip: Gossip, q: Asked) -> object:
    tx = q.body.get("txHash")
    try:
        tx_bytes = parse_hex_bytes(tx, "txHash")
    except OrderParseError:
        tx_bytes = b""
    if len(tx_bytes) != 32:
        gossip.penalize(q.sender)
        raise ApiError(400, 100, "txHash must be 0x and 64 hex digits")
    ok = await gossip.node.settlement_notice("0x" + tx_bytes.hex())
    return {"applied": ok}


ROUTES: list[tuple[str, str, Route, int]] = [
    ("POST", "/orders", post_orders, MAX_P2P_BODY),
    ("GET", "/snapshot", get_snapshot, MAX_SMALL_BODY),
    ("GET", "/cancelled", get_cancelled, MAX_SMALL_BODY),
    ("GET", "/digest", get_digest, MAX_SMALL_BODY),
    ("POST", "/hashes", post_hashes, MAX_SMALL_BODY),
    ("POST", "/fetch", post_fetch, MAX_P2P_BODY),
    ("POST", "/hello", post_hello, MAX_SMALL_BODY),
    ("GET", "/peers", get_peers, MAX_SMALL_BODY),
    ("POST", "/cancels", post_cancel, MAX_SMALL_BODY),
    ("POST", "/settlements", post_settlement, MAX_SMALL_BODY),
]
"""Every ``/p2p/`` route: (method, path under /p2p, route, largest body)."""

STREAM_ROUTES: dict[tuple[str, str], tuple[Route, int]] = {
    (method, path): (route, limit) for method, path, route, limit in ROUTES if path != "/hello"
}
"""What a stream frame may ask (a hello proves a URL: it stays HTTP)."""


def _int(raw: str, name: str, lo: int, hi: int) -> int:
    value = ascii_int(raw, lo, hi)
    if value is None:
        raise ApiError(400, 100, f"{name} must be an integer in {lo}..{hi}")
    return value


def p2p_app(gossip: Gossip, limit: RateLimit) -> web.Application:
    """The ``/p2p/`` routes as an aiohttp sub-application (mounted under ``/p2p/``)."""
    app = web.Application(middlewares=[errors])
    app[GOSSIP_KEY] = gossip
    app[PEER_LIMITER_KEY] = RateLimiter(limit)
    app[STRANGER_LIMITER_KEY] = RateLimiter(
        RateLimit(rate=limit.rate / 4, burst=max(1, limit.burst // 4))
    )
    app[HELLO_LIMITER_KEY] = NetworkLimiter(HELLOS)  # (a site's /64s share: review75)
    app[REPLAY_KEY] = ReplayGuard()
    gossip.intake_paid = functools.partial(intake_spent, app, gossip)  # (pushes pay: gossip78)
    gossip.intake_over = functools.partial(in_debt, app, gossip)
    for method, path, route, max_body in ROUTES:
        app.router.add_route(method, path, p2p(route, max_body))
    app.router.add_get("/stream", get_stream)
    return app


def add_routes(app: web.Application, gossip: Gossip, limit: RateLimit, admin: bool = False) -> None:
    """Mount ``/p2p/`` on ``app`` (and ``/admin/links`` when ``admin``)."""
    app[GOSSIP_KEY] = gossip
    app.add_subapp("/p2p/", p2p_app(gossip, limit))

    async def close_streams(_app: web.Application) -> None:  # before handlers are awaited
        await gossip.close_streams()

    app.on_shutdown.append(close_streams)
    if admin:
        app.router.add_post("/admin/links", links_route(gossip))
