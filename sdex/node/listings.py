"""The listing routes' own budget: a page costs its records, not one request.

A page of ``/v1/orders``, ``/v1/orderbook`` or ``/v1/fills`` at ``perPage=1000`` takes the
event loop 45-100 ms (building ~1,000 records and encoding ~1 MB of JSON; only the SQLite
read runs in a worker thread), while the request budget (``NodeConfig.rate_limit``) counts
it as one request. attack13: one client looping such pages two at a time took other
clients' p50 from 1.7 ms to 140 ms. So each listing is also charged, per client
(``sdex.httpkit.client_group``), one token per record it may return, from a bucket of its
own (``NodeConfig.listing_rate_limit``: 2,000 records a second, 10,000 at once), so that a
client's listings never starve its order posting and vice versa:

- before the handler runs, the page's most records are taken: ``perPage`` (100 when not
  given; 1 when it is invalid, the handler answers 400), twice that for the order book's
  two sides. A bucket holding fewer answers 429 (code 103) with the listing bucket's
  ``X-RateLimit-*`` and ``Retry-After``; nothing is read;
- after it, what the page did not return is given back (at least one token is kept: an
  empty page still costs its count). Charging the most first bounds a client's listings
  in flight by its bucket: two pages at once cannot both spend one page's tokens;
- the order book's page also costs the resting orders it walked to count each side's
  offer, one record per ``WALKED_PER_RECORD`` (taken after it, the bucket down to
  ``-burst`` at most: the client then waits for the refill). review14: without it, a page
  of 1 (2 tokens) on a book of 4,000 orders walked them all, and one client looping it
  took another's order posting p50 from 5 ms to 50 ms (300 ms before the walk built a
  record only for the page's orders);
- a listing's answer carries the listing bucket's ``X-RateLimit-*`` (in records), not
  the request bucket's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from sdex.httpkit import ApiError, RateLimiter, ascii_int, client_group

MAX_PER_PAGE = 1000
DEFAULT_PER_PAGE = 100
WALKED_PER_RECORD = 100
"""Orders an order book page walks in memory to count a side's offer (~1 us each) per
record it is charged: a record built and encoded costs the event loop 45-100 us."""

LISTING_LIMITER_KEY = web.AppKey("listing-limiter", RateLimiter)
LISTED = web.RequestKey("listed", int)
"""The request's key for the records its listing returned (set by the handler)."""
WALKED = web.RequestKey("walked", int)
"""The request's key for the entries its listing walked to count them (set by the handler)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def listed(request: web.Request, records: int, walked: int = 0) -> None:
    """Note that the listing answering ``request`` returns ``records`` records, having
    walked ``walked`` more in memory to count them (the order book's sides)."""
    request[LISTED] = records
    request[WALKED] = walked


def book_records(body: dict[str, object]) -> int:
    """The records on an order book page's sides."""
    return sum(len(side["records"]) for side in body.values() if isinstance(side, dict))


def listing(handler: Handler, sides: int = 1) -> Handler:
    """``handler`` (a paged route: ``perPage`` records on each of its ``sides``) charged to
    its client's listing bucket (``LISTING_LIMITER_KEY``)."""

    async def charged(request: web.Request) -> web.StreamResponse:
        limiter = request.app[LISTING_LIMITER_KEY]
        raw = request.query.get("perPage")
        per_page = DEFAULT_PER_PAGE if raw is None else ascii_int(raw, 1, MAX_PER_PAGE) or 1
        cost = float(min(per_page * sides, limiter.burst))
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
            spent = float(max(1, min(request.get(LISTED, per_page * sides), cost)))
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
