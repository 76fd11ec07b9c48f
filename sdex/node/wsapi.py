"""``GET /v1/ws``: the node's event stream (``sdex.node.events``) and the book events a
socket asks for (``sdex.node.bookfeed``), and ``GET /v1/depth``, a pair's book by level."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from aiohttp import WSMsgType, web

from sdex.book import UnknownPair
from sdex.errors import FieldCode, OrderParseError
from sdex.httpkit import ApiError, NetworkLimiter, client_group
from sdex.model import THROTTLED, error_body
from sdex.node.appstate import BOOK_FEED_KEY, LIMITER_KEY, METRICS_KEY, NODE_KEY, WS_SLOTS_KEY
from sdex.node.bookfeed import BadRequest, BookFeed, snapshot_cost
from sdex.node.events import Published, Subscription, text_frames
from sdex.node.listings import (
    LANE_KEY,
    LISTING_LIMITER_KEY,
    WALKED_PER_RECORD,
    ListingLane,
    listed,
)
from sdex.order import parse_address

WS_COALESCE = 64
"""Events already queued that a websocket subscriber's sender takes with the one it awaited."""
WS_COALESCE_BUFFER = 1 << 16
"""Bytes unsent to a subscriber past which its events go one ``send_str`` each (which
waits for the socket): a slow reader is not written to faster than it reads."""
WS_STALL_SECONDS = 5.0
"""How long one send to a subscriber, or its closing handshake, may wait for its socket (a
client that stopped reading never lets either finish) before the connection is cut."""
WS_CLOSE_SECONDS = 1.0
"""How long a close this node starts (it stops; a subscriber dropped) waits for the client's
close frame before the connection is cut: a client that stopped reading held a node's stop
4.0 s (the HTTP server's shutdown waits 2 s, then 2 s more, before it cancels a handler)."""
SNAPSHOT_COST = 200.0
"""Records a book request takes from the client's listing budget first: an order book
page's (``perPage`` 100, two sides); then it is charged what it cost (``snapshot_cost``, 1
at least), as a listing page is. review17: the 200 were kept, so a few requests for a pair
the node does not list locked the client out of ``GET /v1/depth``."""
NODE_MESSAGE_COST = 1.0
"""Records a book request or ``GET /v1/depth`` takes from the node's listing total first
(refused while it is in debt), as an empty listing page does; its snapshot's cost
(``snapshot_cost``) is charged after it. review17: each took the flat ``SNAPSHOT_COST``
from the total, so messages that cost the node nothing (1 byte of garbage, a subscribe to
an empty book) spent it: 24 addresses sending 10 a second (1,875 bytes in 8 s, the node at
7.5% of a core) had another client's ``GET /v1/depth`` refused 49 times in 146."""


def depth_most(request: web.Request) -> int:
    """``GET /v1/depth`` is charged first as an order book page (``SNAPSHOT_COST``), then
    its levels and the levels it read (``listed``), whatever ``perPage`` says."""
    return int(SNAPSHOT_COST)


WS_MAX_CLIENT_MESSAGE = 4096
"""A subscriber sends only pings, a close and book requests (``sdex.node.bookfeed``): a
message this large closes its socket (1009) instead of being buffered (aiohttp's default
bound is 4 MiB a message)."""

WS_THROTTLED_PAUSE = 0.5
"""Seconds a subscriber's socket is not read after one of its messages was refused over
budget: what it sends meanwhile waits in TCP, unread. attack27: refused messages were each
answered and the next read at once; 32 sockets from 4 addresses sending without reading
held the event loop (``GET /health`` p50 0.6-1.3 s, an honest order's settlement 2-8 s)."""

THROTTLED_EVENT = {"type": "error", **error_body(THROTTLED, "Throttled: too many requests")}
"""The error event a socket's message refused over budget gets (the API's 429 body)."""


async def get_ws(request: web.Request) -> web.WebSocketResponse:
    node = request.app[NODE_KEY]
    metrics = request.app[METRICS_KEY]
    slots, client = request.app[WS_SLOTS_KEY], client_group(request.remote)
    if (refused := slots.take(client)) is not None:
        raise ApiError(429, 103, f"Throttled: {refused}", headers={"Retry-After": "5"})
    ws = web.WebSocketResponse(
        heartbeat=20.0, max_msg_size=WS_MAX_CLIENT_MESSAGE, timeout=WS_CLOSE_SECONDS
    )
    try:
        await ws.prepare(request)
    except BaseException:
        slots.give(client)
        raise
    metrics.ws_connections += 1
    sub = node.events.subscribe()
    feed = request.app[BOOK_FEED_KEY]
    reader = asyncio.create_task(_drain(ws, sub, feed, request))
    # Several events waiting (a settlement's fills and orders): all but the last written
    # in one go as their frames, the last by ``send_str`` (aiohttp's flow control), while
    # the socket keeps up; else (or compressed frames negotiated) one ``send_str`` each.
    raw = None if ws.compress else request.transport
    if raw is not None:
        sub.direct = _Direct(ws, raw)
    try:
        await _sent(ws.send_json({"type": "hello", "chainId": node.domain.chain_id}))
        while not ws.closed:
            sub.parked = True  # (published events may skip the queue: ``Subscription.put``)
            text = await sub.get_text()
            sub.parked = False
            sub.flush()  # (what skipped the queue came first)
            if text is None or ws.closed:  # dropped (too slow, or the node is stopping)
                break
            more, ended = sub.ready_texts(WS_COALESCE)
            if more:
                if raw is not None and raw.get_write_buffer_size() < WS_COALESCE_BUFFER:
                    if not raw.is_closing():
                        raw.write(text_frames([text, *more[:-1]]))
                else:
                    for t in (text, *more[:-1]):
                        await _sent(ws.send_str(t))
                text = more[-1]
            await _sent(ws.send_str(text))
            if ended:
                break
    except (ConnectionError, RuntimeError, TimeoutError):
        pass
    finally:
        sub.parked, sub.direct = False, None
        sub.close()
        feed.drop(sub)
        try:  # (a client that stopped reading never lets the closing handshake end)
            # closed while the reader still reads (user38): close() hands it the close and
            # reads the client's answer itself; cancelled first, the reader left close()
            # waiting its whole WS_CLOSE_SECONDS for an answer a browser sent at once
            await _sent(ws.close())
        except (TimeoutError, ConnectionError):
            if request.transport is not None:
                request.transport.abort()
        finally:
            reader.cancel()
            metrics.ws_connections -= 1
            slots.give(client)
    return ws


class _Direct:
    """A subscriber's socket lent to ``Subscription.put``: events written as whole frames
    while it is open and holds less than ``WS_COALESCE_BUFFER`` unsent (as the sender's own
    coalesced writes)."""

    __slots__ = ("raw", "ws")

    def __init__(self, ws: web.WebSocketResponse, raw: asyncio.Transport) -> None:
        self.ws, self.raw = ws, raw

    def room(self) -> bool:
        raw = self.raw
        return (
            not self.ws.closed
            and not raw.is_closing()
            and raw.get_write_buffer_size() < WS_COALESCE_BUFFER
        )

    def write(self, texts: list[str]) -> None:
        if not self.ws.closed and not self.raw.is_closing():
            self.raw.write(text_frames(texts))


async def _sent(sending: Awaitable[object]) -> None:
    """A send to a subscriber, which may wait for its socket at most ``WS_STALL_SECONDS``: a
    task of its own (written in the next turn, after the gossip pushes spawned with the
    event: ``sdex.node.forwarding``), awaited under ``asyncio.timeout``, not
    ``asyncio.wait_for``, which on Python 3.11 returns when the send ends in the turn the
    handler is cancelled (the node stops), and the handler sent on."""
    send = asyncio.ensure_future(sending)
    async with asyncio.timeout(WS_STALL_SECONDS):
        await send


async def end_subscriptions(app: web.Application) -> None:
    """The node stops (``on_shutdown``, before the HTTP server waits for its handlers): every
    subscriber's stream ends now, its socket closed by its handler, instead of the server
    waiting its shutdown timeout for handlers that wait for the next event (a node with one
    subscriber took 4.0 s to stop, 0.013 s with none)."""
    app[NODE_KEY].events.close()


def _charged(listings: NetworkLimiter, client: str, lane: ListingLane) -> bool:
    """Charge a book request to ``client``'s listing budget, then to the node's total
    (``NODE_MESSAGE_COST``); refused by the total, the client gets its tokens back."""
    if not listings.take(client, SNAPSHOT_COST)[0]:
        return False
    if lane.spend_now(NODE_MESSAGE_COST):  # (all clients together: the node's)
        return True
    listings.give_back(client, SNAPSHOT_COST)
    return False


async def _drain(
    ws: web.WebSocketResponse, sub: Subscription, feed: BookFeed, request: web.Request
) -> None:
    """Read what the client sends: book requests (each charged to the client's request
    budget; a bad one, or one over budget, is answered with an error event and the socket
    stays open), pings and close frames; once the client is gone, end the subscription
    (the sender may be waiting for an event on an idle node: the socket and its slot are
    freed now, not at the next event)."""
    limiter, client = request.app[LIMITER_KEY], client_group(request.remote)
    listings, lane = request.app[LISTING_LIMITER_KEY], request.app[LANE_KEY]
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
            if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                continue
            # a snapshot reads the whole book: charged first as an order book page, to the
            # client's listing budget too (``sdex.node.listings``); the node's total only
            # what the message cost it (``NODE_MESSAGE_COST`` at least), refused in debt
            # (a message the node's total refuses takes nothing from the client's listing
            # budget; review19: 2,100 refused subscribes left a client 500 of its 10,000 and
            # its next listing page got 429)
            if not limiter.take(client)[0] or not _charged(listings, client, lane):
                sub.offer(Published(dict(THROTTLED_EVENT), None))
                await asyncio.sleep(WS_THROTTLED_PAUSE)  # (the client's next sends wait)
            elif msg.type is WSMsgType.BINARY:
                sub.offer(Published(BadRequest("send JSON text, not binary").event(), None))
            else:
                cost = feed.handle(sub, msg.data)
                lane.charge(cost - NODE_MESSAGE_COST)  # (a snapshot's levels: review16)
                # the client's budget: what it cost, 1 at least, as a listing page's (what
                # it did not use given back: an error, a small book; review17)
                taken = min(SNAPSHOT_COST, float(listings.burst))
                if (more := max(NODE_MESSAGE_COST, cost) - taken) > 0:  # (a deep book)
                    listings.charge(client, more)
                else:
                    listings.give_back(client, -more)
    finally:
        sub.close()


async def get_depth(request: web.Request) -> web.Response:
    """A pair's book by price level, as a book subscription's snapshot (with its ``seq``)."""
    feed = request.app[BOOK_FEED_KEY]
    tokens: list[str] = []
    for name in ("baseToken", "quoteToken"):
        raw = request.query.get(name)
        if raw is None:
            raise ApiError.field(name, FieldCode.REQUIRED_FIELD, f"{name} is required")
        try:
            tokens.append(parse_address(raw, name))
        except OrderParseError as e:
            raise ApiError.field(name, FieldCode.INVALID_ADDRESS, e.errors[0].reason) from None
    request.app[LANE_KEY].spend_or_busy(NODE_MESSAGE_COST)  # (all clients together)
    try:
        body = feed.depth(tokens[0], tokens[1])
        pair = feed.book.pair(tokens[0], tokens[1])
        walked = len(pair.bids) + len(pair.asks)  # (the levels read: totals kept, no order)
        levels = len(body["bids"]) + len(body["asks"])
        # (the levels past the page's 200 are charged with the walk: review16)
        listed(request, levels, walked + max(0, levels - depth_most(request)) * WALKED_PER_RECORD)
        request.app[LANE_KEY].charge(snapshot_cost(body, walked) - NODE_MESSAGE_COST)
        return web.json_response(body)
    except UnknownPair:
        raise ApiError.field(
            "quoteToken", FieldCode.ADDRESS_NOT_SUPPORTED, "this node does not list that pair"
        ) from None
