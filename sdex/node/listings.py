"""The listing routes' admission: a per-client budget of records, and one lane that builds
pages one at a time, clients in turn, at a bounded rate in all.

A page of ``/v1/orders``, ``/v1/orderbook`` or ``/v1/fills`` at ``perPage=1000`` used to
take the event loop 45-100 ms at once, while the request budget (``NodeConfig.rate_limit``)
counts it as one request: one client looping such pages took other clients' p50 from 1.7 ms
to 140 ms (attack13). Now:

- **per client** (``sdex.httpkit.client_group``), each listing is charged one token per
  record it may return, from a bucket of its own (``NodeConfig.listing_rate_limit``: 2,000
  records a second, 10,000 at once), so that a client's listings never starve its order
  posting and vice versa. Before the handler runs, the page's most records are taken
  (``most``: ``perPage``, 100 when not given, 1 when invalid (the handler answers 400),
  twice that for the order book's two sides; ``/web/orders`` its hashes). A bucket holding
  fewer answers 429 (code 103) with the bucket's ``X-RateLimit-*`` and ``Retry-After``;
  nothing is read. After it, what the page did not return is given back (an empty page
  still costs 1). The order book's page also costs what it read to find the page (price
  levels and, since book16, the entries of the level it starts in rather than every resting
  order: ``PairBook.offered``), one record per ``WALKED_PER_RECORD`` (taken after it, the
  bucket down to ``-burst`` at most: the client then waits for the refill). review14: without it, a
  page of 1 (2 tokens) on a book of 4,000 orders walked them all, and one client looping
  it took another's order posting p50 from 5 ms to 50 ms. A listing's answer carries this
  bucket's ``X-RateLimit-*``, in records;
- **in all**, pages are built in one lane (``ListingLane``), one at a time and in slices
  (``sdex.node.pages``): however many clients list at once, the event loop runs at most one
  slice of listing work (~1-2 ms) between any two turns of everything else. The lane serves
  the clients waiting for it in turn (one page each, round robin: each active address gets a
  fair share, however many pages another queues) and spends its records from a bucket for
  the whole node (``NodeConfig.listing_total_rate``): once that is empty, the next page
  waits for it to refill, so many addresses, each within its own budget, cannot add up to
  more than that rate. A client may have ``LANE_PER_CLIENT`` listings in progress (reading,
  waiting or being built: ``ListingLane.admitted``) and the node ``LANE_WAITING`` in all;
  past those one is refused (429, or 503 for the node's bound, code 103, ``Retry-After:
  1``) before anything is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from aiohttp import web

from sdex.httpkit import (
    ApiError,
    NetworkLimiter,
    RateLimit,
    ascii_int,
    client_group,
    client_path,
    path_caps,
)

MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100
WALKED_PER_RECORD = 100
"""What an order book page reads in memory to count a side's offer (its price levels, whose
counts the book keeps; ~1 us each) per record it is charged: a record built and encoded
costs the event loop 45-100 us."""
LANE_PER_CLIENT = 8
"""Pages one client address may have waiting for the lane at once."""
LANE_WAITING = 256
"""Pages waiting for the lane in all."""

LISTING_LIMITER_KEY = web.AppKey("listing-limiter", NetworkLimiter)
LISTED = web.RequestKey("listed", int)
"""The request's key for the records its listing returned (set by the handler)."""
WALKED = web.RequestKey("walked", int)
"""The request's key for the entries its listing walked to count them (set by the handler)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ListingLane:
    """One page built at a time; waiting clients served in turn; ``total`` records a second
    in all (a bucket of ``total.burst``: a page spends what it returned once built, and the
    next turn waits until the bucket is no longer in debt)."""

    def __init__(
        self,
        total: RateLimit,
        per_client: int = LANE_PER_CLIENT,
        waiting: int = LANE_WAITING,
    ) -> None:
        self.rate = total.rate
        self.burst = float(total.burst)
        self.per_client = per_client
        self.most_waiting = waiting
        self._tokens = self.burst
        self._at = time.monotonic()
        self._busy = False
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()
        self._count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._admitted: dict[str, int] = {}
        self._in_progress = 0
        self.pages = 0
        """Pages built so far."""
        self.waited = 0
        """Pages that waited for the lane (another page was being built, or the rate)."""

    @property
    def waiting(self) -> int:
        """Pages waiting for their turn now."""
        return self._count

    def spend(self, records: int) -> None:
        """A page built in the lane returned ``records`` records."""
        self._refill()
        self._tokens -= records
        self.pages += 1

    def spend_now(self, records: float) -> bool:
        """Spend ``records`` from the node-wide bucket for work done outside the lane (a
        book snapshot, ``sdex.node.wsapi``) unless it is in debt: False then (refused).
        review15: snapshots were charged only to each client's budget, so many addresses
        together had no bound."""
        self._refill()
        if self._tokens < 0:
            return False
        self._tokens -= records
        return True

    def spend_or_busy(self, records: float) -> None:
        """``spend_now`` or, refused, the 503 a client is answered (code 103,
        ``Retry-After: 1``): for a route that reads outside the lane."""
        if not self.spend_now(records):
            raise ApiError(
                503,
                103,
                "Busy: too many records listed on this node; retry shortly",
                headers={"Retry-After": "1"},
            )

    def charge(self, records: float) -> None:
        """Spend ``records`` more for work already done outside the lane (a book snapshot's
        or an order book page's walk beyond what was spent for it first), the bucket down
        to ``-burst`` at most (a second of the rate: one deep book's snapshot does not stop
        every listing for long). review16: the node-wide total counted neither walk, so
        many addresses, each within its own budget, could hold the event loop. A bucket
        already below ``-burst`` (a page's records spent in the lane) stays there: review18,
        the floor raised it, forgiving that page's debt."""
        self._refill()
        floor = min(self._tokens, -self.burst)
        self._tokens = max(floor, self._tokens - max(0.0, records))

    def _refill(self) -> None:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    @staticmethod
    def _refused(bound: int, whose: str) -> ApiError:
        """A listing past the lane's bound of ``whose`` listings: 429 for one client's (or
        its network's), 503 for the node's (code 103, ``Retry-After: 1``), before anything
        is read or queued."""
        status, word = (429, "Throttled") if whose != "in all" else (503, "Busy")
        return ApiError(
            status,
            103,
            f"{word}: {bound} listing pages {whose} already wait",
            headers={"Retry-After": "1"},
        )

    @contextlib.contextmanager
    def admitted(self, client: str) -> Iterator[None]:
        """A listing of ``client`` from before it reads anything to its end, refused at once
        (429, or 503 for the node's bound, as the lane's own) when the client has
        ``per_client`` listings in progress already (reading, waiting or being built;
        ``waiting`` in all). review15: refused only at the lane, after its read, a page
        of 1,000 rows read from the store (or a book walked) cost 1 record of the budget.
        An IPv6 client's /56 and /48 hold at most their share of ``waiting``
        (``sdex.httpkit.client_path``, as connections and websockets: guard19 left the lane
        keyed by /64 alone, so 32 /64s of one /48 held all 256 places and every other
        client's listing got 503)."""
        path = client_path(client)
        caps = path_caps(self.per_client, self.most_waiting)[-len(path) :]
        for group, cap in zip(path, caps, strict=True):
            if self._admitted.get(group, 0) >= cap:
                raise self._refused(cap, "of this client" if group == path[-1] else
                                    f"of this client's network ({group})")  # fmt: skip
        if self._in_progress >= self.most_waiting:
            raise self._refused(self.most_waiting, "in all")
        for group in path:
            self._admitted[group] = self._admitted.get(group, 0) + 1
        self._in_progress += 1
        try:
            yield
        finally:
            self._in_progress -= 1
            for group in path:
                left = self._admitted.pop(group) - 1
                if left:
                    self._admitted[group] = left

    @contextlib.asynccontextmanager
    async def turn(self, client: str) -> AsyncIterator[None]:
        """The lane, held for the ``async with`` block (the page's build)."""
        self._refill()
        if self._busy or self._count or self._tokens < 0:
            await self._wait(client)
        else:
            self._busy = True
        try:
            yield
        finally:
            self._release()

    async def _wait(self, client: str) -> None:
        queue = self._waiting.get(client)
        if queue is not None and len(queue) >= self.per_client:
            raise self._refused(self.per_client, "of this client")
        if self._count >= self.most_waiting:
            raise self._refused(self.most_waiting, "in all")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if queue is None:
            queue = self._waiting[client] = deque()
        queue.append(fut)
        self._count += 1
        self.waited += 1
        if not self._busy:
            self._next()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():  # given the turn, then cancelled: pass it on
                self._release()
            raise

    def _release(self) -> None:
        self._busy = False
        self._next()

    def _next(self) -> None:
        """Give the turn to the next client waiting (round robin), now or once the total
        bucket is out of debt."""
        if self._busy or self._timer is not None:
            return
        self._refill()
        if self._tokens < 0:
            if self._count:
                delay = -self._tokens / self.rate  # (``RateLimit``: a rate above 0)
                self._timer = asyncio.get_running_loop().call_later(delay, self._paced)
            return
        while self._waiting:
            client, queue = next(iter(self._waiting.items()))
            fut = queue.popleft()
            self._count -= 1
            if queue:
                self._waiting.move_to_end(client)
            else:
                del self._waiting[client]
            if not fut.done():  # (a waiter cancelled meanwhile is skipped)
                self._busy = True
                fut.set_result(None)
                return

    def _paced(self) -> None:
        self._timer = None
        self._next()


LANE_KEY = web.AppKey("listing-lane", ListingLane)


def listed(request: web.Request, records: int, walked: int = 0) -> None:
    """Note that the listing answering ``request`` returns ``records`` records, having
    walked ``walked`` more in memory to count them (the order book's sides)."""
    request[LISTED] = records
    request[WALKED] = walked


def per_page_most(sides: int = 1) -> Callable[[web.Request], int]:
    """The most records a paged route may return: ``perPage`` on each of its ``sides``."""

    def most(request: web.Request) -> int:
        raw = request.query.get("perPage")
        per_page = DEFAULT_PER_PAGE if raw is None else ascii_int(raw, 1, MAX_PER_PAGE) or 1
        return per_page * sides

    return most


def listing(handler: Handler, most: Callable[[web.Request], int] | None = None) -> Handler:
    """``handler`` (a route returning at most ``most(request)`` records; default
    ``perPage``) charged to its client's listing bucket (``LISTING_LIMITER_KEY``)."""
    most = most or per_page_most()

    async def charged(request: web.Request) -> web.StreamResponse:
        with request.app[LANE_KEY].admitted(client_group(request.remote)):
            return await charged_within(request)

    async def charged_within(request: web.Request) -> web.StreamResponse:
        limiter = request.app[LISTING_LIMITER_KEY]
        records = most(request)
        cost = float(min(records, limiter.burst))
        client = client_group(request.remote)
        ok, headers = limiter.take(client, cost)
        if not ok:
            raise ApiError(
                429,
                103,
                f"Throttled: too many records listed (at most {limiter.rate:g} a second, "
                f"{limiter.burst} at once; this page may return {cost:g})",
                headers=headers,
            )
        spent = 1.0
        try:
            resp = await handler(request)
            spent = float(max(1, min(request.get(LISTED, records), cost)))
            spent += request.get(WALKED, 0) / WALKED_PER_RECORD
        finally:
            if spent <= cost:
                headers = limiter.give_back(client, cost - spent)
            else:
                headers = limiter.charge(client, spent - cost)
        if not resp.prepared:
            resp.headers.update(headers)
        return resp

    return charged
