"""The node's HTTP API (PRODUCT.md section 3): aiohttp routes over ``Node``.

Bad input always gets a 4xx with the SRA error body and changes nothing:

- ``code`` 100 validation failed (with ``validationErrors``), 101 malformed JSON (bad
  syntax, floats, NaN, nesting too deep, wrong content type, body too large), 103 throttled;
- every route parses its query and path parameters before touching the node.

The per-client rate limit is a token bucket keyed by the peer address; every answer carries
``X-RateLimit-Limit``/``-Remaining``/``-Reset`` and a 429 also ``Retry-After``.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from sdex.book import UnknownPair
from sdex.errors import FieldCode, OrderParseError
from sdex.gossip.routes import MAX_P2P_BODY, add_routes
from sdex.httpkit import (
    CONTINUE_OWED,
    ApiError,
    NetworkLimiter,
    ascii_int,
    client_group,
    continued,
)
from sdex.httpkit import read_json as read_json_within
from sdex.jsonio import dumps_bytes
from sdex.matching import TimeInForce
from sdex.model import API_STATUSES
from sdex.node.appstate import (
    BOOK_FEED_KEY,
    FRONTS_KEY,
    LIMITER_KEY,
    METRICS_KEY,
    NODE_KEY,
    WS_SLOTS_KEY,
    Metrics,
)
from sdex.node.appstate import LATENCY_BUCKETS as LATENCY_BUCKETS
from sdex.node.bookfeed import BookFeed
from sdex.node.core import Node
from sdex.node.events import WsSlots
from sdex.node.expectrefused import expect_refused_for, unrouted_take
from sdex.node.headlimit import EXPECT_REFUSED_KEY
from sdex.node.listings import (
    LANE_KEY,
    LISTING_LIMITER_KEY,
    MAX_PER_PAGE,
    ListingLane,
    listing,
    per_page_most,
)
from sdex.node.pages import book_page, fills_page, orders_page
from sdex.node.wsapi import WS_MAX_CLIENT_MESSAGE as WS_MAX_CLIENT_MESSAGE
from sdex.node.wsapi import WS_STALL_SECONDS as WS_STALL_SECONDS
from sdex.node.wsapi import depth_most, get_depth, get_ws
from sdex.order import parse_address, parse_hex_bytes, to_checksum
from sdex.store import StoreError
from sdex.typeddata import EIP712_TYPES
from sdex.web import add_web_routes

log = logging.getLogger("sdex.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- parsing helpers ----------------------------------------------------------------------


async def read_json(request: web.Request, max_bytes: int | None = None) -> dict[str, Any]:
    """The request's JSON object (``sdex.httpkit.read_json``), at most ``max_bytes`` long
    (default: the node's ``max_body``). Every public POST route reads its body here: one
    rule for all of them, a body without a ``Content-Type`` read as JSON."""
    config = request.app[NODE_KEY].config
    limit = max_bytes if max_bytes is not None else config.max_body
    return await read_json_within(request, limit, untyped=True, timeout=config.body_timeout)


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    value = ascii_int(raw, lo, hi)
    if value is None:
        raise ApiError.field(
            name, FieldCode.VALUE_OUT_OF_RANGE, f"{name} must be an integer in {lo}..{hi}"
        )
    return value


def _query_address(request: web.Request, name: str, required: bool = False) -> str | None:
    raw = request.query.get(name)
    if raw is None:
        if required:
            raise ApiError.field(name, FieldCode.REQUIRED_FIELD, f"{name} is required")
        return None
    try:
        return parse_address(raw, name)
    except OrderParseError as e:
        raise ApiError.field(name, FieldCode.INVALID_ADDRESS, e.errors[0].reason) from None


def _each_once(request: web.Request) -> None:
    """A 400 naming the first parameter the query gives more than once: every ``/v1/`` GET
    route reads one value a name (attack93: ``?maker=A&maker=B`` listed A's orders only, and
    ``?page=1&page=2`` page 1, as if the second had not been asked)."""
    query = request.query
    if len(query) > len({name for name, _ in query.items()}):  # (``len``: each value counted)
        seen: set[str] = set()
        for name, _ in query.items():
            if name in seen:
                raise ApiError.field(
                    name, FieldCode.INCORRECT_FORMAT, f"{name} is given more than once"
                )
            seen.add(name)


def _order_hash(raw: str) -> bytes:
    """An order hash from a path or query: 0x and 64 hex digits, else a 400."""
    try:
        h = parse_hex_bytes(raw, "orderHash")
    except OrderParseError:
        h = b""
    if len(h) != 32:
        raise ApiError.field(
            "orderHash", FieldCode.INCORRECT_FORMAT, "orderHash must be 0x and 64 hex digits"
        )
    return h


def _path_hash(request: web.Request) -> bytes:
    return _order_hash(request.match_info["hash"])


# -- routes --------------------------------------------------------------------------------

_JSON_TYPE = {"Content-Type": "application/json; charset=utf-8"}
"""The ``Content-Type`` of ``json_response`` (copied into each answer's own headers)."""

_TIFS = {t.value: t for t in TimeInForce}
"""``timeInForce`` by its JSON name (a dict lookup: ``TimeInForce(raw)`` costs ~1 us)."""


def post_order_for(node: Node, metrics: Metrics) -> Handler:
    """``POST /v1/orders`` for ``node``: what it needs looked up once, here, not per
    request (the app's keys, the body's bound and timeout)."""
    limit, timeout = node.config.max_body, node.config.body_timeout
    submitted = metrics.order_submitted

    async def post_order(request: web.Request) -> web.Response:
        arrived = time.monotonic()  # (before its body: its client's 10 s count that too, user81)
        obj = await read_json_within(request, limit, untyped=True, timeout=timeout)
        tif_raw = obj.pop("timeInForce", "gtc")
        tif = _TIFS.get(tif_raw) if isinstance(tif_raw, str) else None
        if tif is None:
            raise ApiError.field(
                "timeInForce", FieldCode.UNSUPPORTED_OPTION, "timeInForce must be gtc, ioc or fok"
            )
        client = request.remote or ""  # (whose budget of chain reads pays for one)
        # (with the others posted in this loop turn: ``sdex.node.walletgroup``)
        result = await node.submit_wallet(obj, tif, client, arrived)
        submitted(
            str(result.body.get("rejection", "accepted" if result.status < 300 else "rejected"))
        )
        # (``json_response``'s own work: the text made with the answer, or the body encoded
        # with the encoder made once, ``sdex.jsonio.dumps_bytes``)
        text = result.text
        data = dumps_bytes(result.body) if text is None else text.encode("ascii")
        headers = _JSON_TYPE if result.headers is None else {**_JSON_TYPE, **result.headers}
        return web.Response(body=data, status=result.status, headers=headers)

    return post_order


async def get_orders(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    page = _query_int(request, "page", 1, 1, 10**9)
    per_page = _query_int(request, "perPage", 100, 1, MAX_PER_PAGE)
    filters: dict[str, str] = {}
    for q, col in (
        ("maker", "maker"),
        ("makerToken", "maker_token"),
        ("takerToken", "taker_token"),
        ("taker", "taker"),
        ("takerAddress", "taker"),  # (SRA v3's name)
    ):
        v = _query_address(request, q)
        if v is not None:
            if filters.get(col, v) != v:  # (``taker`` and ``takerAddress``: one filter)
                raise ApiError.field(
                    q, FieldCode.INCORRECT_FORMAT, "taker and takerAddress name different addresses"
                )
            filters[col] = v
    status = request.query.get("status")
    if status is not None:
        if status not in API_STATUSES:
            raise ApiError.field(
                "status",
                FieldCode.UNSUPPORTED_OPTION,
                f"status must be one of {', '.join(s.value for s in API_STATUSES)}",
            )
        filters["status"] = status
    return await orders_page(request, node, filters, page, per_page)


async def get_order(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    order_hash = _path_hash(request)
    try:
        rec = node.record_json(order_hash)
    except (sqlite3.Error, StoreError) as e:  # (store97: a 500 "internal error")
        said = f"the store refused to read the order's row ({e}): ask again later"
        raise ApiError(503, 100, said) from None
    if rec is None and node.store.is_damaged("0x" + order_hash.hex()):  # (bounds84)
        raise ApiError(503, 100, "the order's stored row is damaged (/health store.damagedRows)")
    if rec is None:
        raise ApiError(404, 100, "order not found")
    chain = node.watcher.status
    if chain == "ok" and node.not_rejudged(order_hash):  # (gate77)
        chain = "rejudging"  # (a reset's walk has yet to judge it: the old chain's word)
    if chain != "ok" and isinstance(meta := rec.get("metaData"), dict):
        # the status is judged from a view of the chain that is not current (a failed
        # catch-up retried, the chain unreachable or behind: ``/health`` 503): said here too
        rec = {**rec, "metaData": {**meta, "chainStatus": chain}}  # (review27)
    return web.json_response(rec)


async def get_orderbook(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    base = _query_address(request, "baseToken", required=True)
    quote = _query_address(request, "quoteToken", required=True)
    viewer = _query_address(request, "takerAddress")  # (also its orders: sdex.node.takers)
    page = _query_int(request, "page", 1, 1, 10**9)
    per_page = _query_int(request, "perPage", 100, 1, MAX_PER_PAGE)
    assert base is not None and quote is not None
    try:
        return await book_page(request, node, base, quote, page, per_page, viewer)
    except UnknownPair:
        raise ApiError.field(
            "quoteToken", FieldCode.ADDRESS_NOT_SUPPORTED, "this node does not list that pair"
        ) from None


async def get_order_config(request: web.Request) -> web.Response:
    return web.json_response(order_config_of(request.app[NODE_KEY]))


def order_config_of(node: Node) -> dict[str, Any]:
    """``GET /v1/order_config``'s body: the node's for its lifetime (its config and chain;
    a front answers it too, ``sdex.node.fronts``)."""
    cfg = node.config
    return {
        "chainId": node.domain.chain_id,
        "exchange": node.domain.verifying_contract,
        "domain": node.domain.to_json(),
        "types": EIP712_TYPES,
        "primaryType": "Order",
        "feeRecipient": cfg.fee_recipient,
        "feeBps": cfg.fee_bps,
        "tokens": {
            sym: {
                "address": t.address,
                "decimals": t.decimals,
                "minAmount": str(cfg.limits.minimum(t.address.lower())),
            }
            for sym, t in cfg.tokens.items()
        },
        "pairs": [f"{b}/{q}" for b, q in _pair_symbols(node)],
        "timeInForce": [t.value for t in TimeInForce],
    }


def _pair_symbols(node: Node) -> list[tuple[str, str]]:
    syms = list(node.config.tokens)
    return [(b, q) for i, b in enumerate(syms) for q in syms[i + 1 :]]


async def get_fills(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    page = _query_int(request, "page", 1, 1, 10**9)
    per_page = _query_int(request, "perPage", 100, 1, MAX_PER_PAGE)
    order_hash: str | None = None
    if "orderHash" in request.query:
        order_hash = "0x" + _order_hash(request.query["orderHash"]).hex()
    return await fills_page(request, node, page, per_page, order_hash)


async def post_cancel(request: web.Request) -> web.Response:
    arrived = time.monotonic()  # (before its body: its client's 10 s count that too, users83)
    node = request.app[NODE_KEY]
    order_hash = _path_hash(request)
    obj = await read_json(request)
    try:
        signature = parse_hex_bytes(obj.get("signature"), "signature")
    except OrderParseError as e:
        raise ApiError.field(
            "signature", FieldCode.INVALID_SIGNATURE_OR_HASH, e.errors[0].reason
        ) from None
    result = await node.cancel(order_hash, signature, client_group(request.remote), arrived)
    return web.json_response(result.body, status=result.status)


async def get_health(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    if not node.started.is_set():  # (the port opens before the stored orders are loaded)
        step = {"step": node.start_step} if node.start_step else {}  # (a long wait: why)
        return web.json_response(
            {"status": "starting", "openOrders": node.open_orders, **step},
            status=503,
            headers=STARTING,
        )
    w = node.watcher
    chain = "ok" if w.status == "ok" else w.status  # unreachable, behind, wrong-chain, failing
    if chain in ("ok", "behind") and node.held_why():  # (the chain's identity in doubt: gate77)
        chain = node.held_status()[0]  # (matching and signing held: ``chainMirror.identity``
        # says why; kept77: a flapping endpoint's polls say behind and ok in turn, and so did
        # this; signer78: a wrong-chain hold, ok and wrong-chain in turn, says wrong-chain)
    if chain == "ok" and node.rejudging:  # (the stored orders judged again after a reset)
        chain = "rejudging"
    return web.json_response(
        {
            "status": "ok" if chain == "ok" else "degraded",
            "chain": chain,
            "chainLag": w.lag,
            "caughtUp": w.caught_up.is_set(),
            "chainId": node.domain.chain_id,
            "exchange": to_checksum(node.domain.verifying_contract),  # (as wallets say it: users89)
            "operator": to_checksum(node.config.operator),
            **node.stats(),
            **({"fronts": request.app[FRONTS_KEY].health()} if FRONTS_KEY in request.app else {}),
        },
        status=200 if chain == "ok" else 503,
    )


async def get_metrics(request: web.Request) -> web.Response:
    data = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=data, headers={"Content-Type": CONTENT_TYPE_LATEST})


# -- middlewares ---------------------------------------------------------------------------


STARTING = {"Retry-After": "1"}
"""Headers of a starting node's 503s: ask again in a second."""


def _route_name(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


CLIENT_LEFT = 499
"""The status counted for a request whose client closed its connection before the answer
(nginx's "client closed request"): never written, nobody reads it."""


def _failed(request: web.Request, e: Exception) -> web.StreamResponse:
    """The answer to a request whose handler raised ``e``, an exception no rule above
    expects: a bug, logged with its traceback and answered 500; but a connection reset
    while the client's connection is closed (aiohttp's ``ClientConnectionResetError``,
    "Cannot write to closing transport": a peer or wallet that closed its websocket upgrade
    before the 101) is the client leaving, said at debug, the status ``CLIENT_LEFT``
    (aiohttp drops an answer it cannot write). chaos74: a peer's ``/p2p/stream`` upgrade
    closed early was logged as a bug, with a traceback, and counted a 500."""
    transport = request.transport
    if isinstance(e, ConnectionResetError) and (transport is None or transport.is_closing()):
        log.debug("%s %s: the client left before the answer (%s)", request.method,
                  request.path, e)  # fmt: skip
        return web.Response(status=CLIENT_LEFT)
    log.exception("unexpected error in %s %s", request.method, request.path)
    return ApiError(500, 100, "internal error").response()


def guard_for(node: Node, metrics: Metrics, limiter: NetworkLimiter) -> Middleware:
    """The node's ``guard`` middleware: rate limit, SRA error bodies for every 4xx, metrics;
    no 5xx for bad input. What it reads of the app is looked up once, here."""
    started, peers = node.started, node.serving_peers
    ready = False  # (``started`` is set once, when the stored orders are back, and stays)
    take, done = limiter.take, metrics.request_done
    perf_counter = time.perf_counter

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal ready
        route = _route_name(request)
        began = perf_counter()
        headers: dict[str, str] = {}
        path = request.path
        if not ready and path != "/health":
            ready = started.is_set()
            if not ready and not (path.startswith("/p2p/") and peers.is_set()):
                # still loading the stored orders (``sdex.node.main.serve``): no answer from
                # a half-loaded book, no order taken before the stored ones are back
                resp: web.StreamResponse = ApiError(
                    503, 100, "Starting: loading the stored orders; retry shortly", headers=STARTING
                ).response()
                if CONTINUE_OWED in request:  # (its body never asked for: closed, as below)
                    resp.force_close()
                done(route, resp.status, perf_counter() - began)
                return resp
        if path.startswith("/p2p/"):  # peers have their own limits (sdex.gossip.routes)
            ok, headers = unrouted_take(node, request, take)  # (no route's: a refusal)
        else:
            ok, headers = take(client_group(request.remote))
        if not ok:
            resp = ApiError(429, 103, "Throttled: too many requests", headers=headers).response()
        else:
            try:
                if request.query_string and path.startswith("/v1/") and request.method == "GET":
                    _each_once(request)
                if not path.startswith("/p2p/"):  # (a peer's: once proved, ``gossip.routes``)
                    await continued(request)
                resp = await handler(request)
            except ApiError as e:
                resp = e.response()
            except web.HTTPRequestEntityTooLarge as e:
                resp = ApiError(413, 101, f"Request body too large: {e.text}").response()
            except web.HTTPException as e:
                if e.status < 400:
                    raise
                resp = ApiError(e.status, 100, e.reason).response()
            except Exception as e:
                resp = _failed(request, e)
            if not resp.prepared:  # (a listing's own: its bucket's, ``sdex.node.listings``)
                answer_headers = resp.headers
                for k, v in headers.items():
                    answer_headers.setdefault(k, v)
        if CONTINUE_OWED in request and not resp.prepared:  # (refused: its body never asked
            resp.force_close()  # for, not waited for either)
        done(route, resp.status, perf_counter() - began)
        return resp

    return guard


async def _stopped(feed: BookFeed) -> None:
    feed.stop()


def make_app(node: Node) -> web.Application:
    metrics, limiter = Metrics(node), NetworkLimiter(node.config.rate_limit)
    app = web.Application(
        middlewares=[guard_for(node, metrics, limiter)], client_max_size=MAX_P2P_BODY
    )
    app[NODE_KEY] = node
    app[METRICS_KEY] = metrics
    app[LIMITER_KEY] = limiter
    app[EXPECT_REFUSED_KEY] = expect_refused_for(node, metrics, limiter)
    app[LISTING_LIMITER_KEY] = NetworkLimiter(node.config.listing_rate_limit)
    app[LANE_KEY] = ListingLane(node.config.listing_total_rate)
    app[WS_SLOTS_KEY] = WsSlots(node.config.max_ws_per_client, node.config.max_ws)
    feed = app[BOOK_FEED_KEY] = BookFeed(node.book, node.events, node.config.book_tick)
    app.on_cleanup.append(lambda _app: _stopped(feed))
    app.router.add_post("/v1/orders", post_order_for(node, metrics))
    app.router.add_get("/v1/orders", listing(get_orders))
    app.router.add_get("/v1/orders/{hash}", get_order)
    app.router.add_post("/v1/orders/{hash}/cancel", post_cancel)
    app.router.add_get("/v1/orderbook", listing(get_orderbook, per_page_most(sides=2)))
    app.router.add_get("/v1/order_config", get_order_config)
    app.router.add_get("/v1/fills", listing(get_fills))
    app.router.add_get("/v1/ws", get_ws)
    app.router.add_get("/v1/depth", listing(get_depth, depth_most))
    app.router.add_get("/health", get_health)
    app.router.add_get("/metrics", get_metrics)
    if node.gossip is not None:
        add_routes(app, node.gossip, node.config.peer_rate_limit, node.config.admin)
    add_web_routes(app, node)
    return app
