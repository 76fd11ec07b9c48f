"""The listing routes (``GET /v1/orders``, ``/v1/orderbook``, ``/v1/fills``): each page is
read, then built in the listing lane (``sdex.node.listings``) in slices of ``SLICE`` records,
the event loop let go between two slices, and answered as one body joined from the records'
texts.

A record's text is made directly (``HeldOrders.record_text``: the order's own text, kept by
its record, and ``metaData`` formatted, not a dict encoded; an evicted order's from its
stored row, the order's text as stored, not parsed into an order and hashed again): 1,000
records in memory cost 16.8 ms of CPU instead of 54.7 (medians on a loaded machine; evicted
ones 11.5 ms), and the loop no more than one slice of it (~1-3 ms) at a time.

Consistency (orders may change between two slices):

- a page's orders, and their order, are those of one instant: ``/v1/orders`` and
  ``/v1/fills`` one read of the store (count and rows in one read transaction: what was
  committed then), ``/v1/orderbook`` one read of the book's levels (synchronous, no
  await), with its ``total``. No order is listed twice, and none that was on the page at that
  instant is left out, whatever changes while the page is built;
- each record's ``metaData`` is the order's state when its slice was built (at or after
  that instant, a few milliseconds at most): an order filled meanwhile is listed with its
  new status (on a book page: still listed, with ``remainingFillableMakerAmount`` 0).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from sdex.book import Side
from sdex.errors import FieldCode
from sdex.httpkit import ApiError, client_group
from sdex.jsonio import ORDER_DEPTH, encoder, stored
from sdex.model import OrderStatus, fill_json
from sdex.node.core import Node
from sdex.node.held import meta_text
from sdex.node.listings import LANE_KEY, WALKED_PER_RECORD, listed
from sdex.node.takers import offered
from sdex.order import Domain, Order
from sdex.store import StoreError
from sdex.storepage import FILL_KEY, FILL_TAG, ORDER_KEY, Cursor, Page
from sdex.storerows import UINT_TEXT
from sdex.storeschema import cancel_at

log = logging.getLogger("sdex.api")

SLICE = 128
"""Records built at most per turn of the event loop (~1 ms for orders in memory)."""
SLICE_SECONDS = 0.001
"""A slice ends once it took this long (on a loaded machine, before ``SLICE`` records)."""
CHECK_EVERY = 16
"""Records between two looks at the clock (``SLICE`` is a multiple of it)."""
REST = 1.0
"""After a slice the lane rests this many times as long as the slice took: while pages
wait, listing takes at most half the event loop's time (1 / (1 + REST)), and every other
task's steps mostly run in the rests, not behind a slice. (Without rests, each of a
request's many steps waited behind a slice: a wallet's order, a dozen steps, took
p50 264 ms beside four greedy listers, against 85 ms for pages built in one go.)"""

_ENCODE = encoder()
MAX_UNLISTABLE_NAMED = 4096
"""Stored rows that are not orders, logged once each (past these, not logged)."""
_UNLISTABLE: set[object] = set()
T = TypeVar("T")


async def sliced(
    request: web.Request, groups: Sequence[Sequence[T]], text: Callable[[T], str | None]
) -> list[tuple[str, int]]:
    """For each group of items, ``", ".join`` of ``text(item)`` (a None left out) and how
    many it joined; built in the listing lane in slices of at most ``SLICE`` items and
    ``SLICE_SECONDS``, each followed by a rest as long as it took (``REST``)."""
    lane = request.app[LANE_KEY]
    out: list[tuple[str, int]] = []
    clock = time.perf_counter
    async with lane.turn(client_group(request.remote)):
        built = 0
        began = clock()
        for items in groups:
            parts: list[str] = []
            for item in items:
                if built % CHECK_EVERY == 0 and built:
                    took = clock() - began
                    if took >= SLICE_SECONDS or built % SLICE == 0:
                        await asyncio.sleep(took * REST)
                        began = clock()
                built += 1
                t = text(item)
                if t is not None:
                    parts.append(t)
            out.append((", ".join(parts), len(parts)))
        lane.spend(built)
    return out


def page_text(total: int, page: int, per_page: int, records: str, more: str = "") -> str:
    """An SRA page's JSON text (``json.dumps``' separators), its records' texts joined, then
    ``more`` (further members' text, each after ", ")."""
    return (
        f'{{"total": {total}, "page": {page}, "perPage": {per_page}, "records": [{records}]{more}}}'
    )


def listing_text(got: Page[Any], per_page: int, records: str, more: str = "") -> str:
    """A store listing's page (``sdex.storepage``) with its ``next``: null on the last;
    then ``more`` (as ``page_text``'s)."""
    return page_text(
        got.total, got.page, per_page, records, f', "next": {json.dumps(got.next)}{more}'
    )


def cursor_of(request: web.Request, key_parts: int, tag: str = "") -> Cursor | None:
    """The ``cursor`` parameter (a page's ``next``; ``sdex.storepage``), or None if not
    given; 400 (field code 1001) for one that is not a cursor of this listing."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    cursor = Cursor.parse(raw, key_parts, tag)
    if cursor is None:
        raise ApiError.field(
            "cursor", FieldCode.INCORRECT_FORMAT, "cursor must be a page's next, as given"
        )
    return cursor


def chain_note(node: Node) -> str:
    """``, "chainStatus": "<status>"`` while the watcher's view of the chain is not current
    (``/health`` 503: a failed catch-up retried, the chain unreachable or behind), else "":
    a page's statuses and fills are then the saved mirror's word (as ``metaData.chainStatus``
    on one order's record, review27)."""
    status = node.watcher.status
    if status == "ok" and node.rejudge_walk is not None:  # (gate77: closed orders on it may
        status = "rejudging"  # still say what the old chain had: a reset's walk under way)
    return "" if status == "ok" else f", {json.dumps('chainStatus')}: {json.dumps(status)}"


def json_answer(text: str) -> web.Response:
    return web.Response(
        body=text.encode(), headers={"Content-Type": "application/json; charset=utf-8"}
    )


def order_text(node: Node) -> Callable[[tuple[Any, ...]], str | None]:
    """A stored order row's record text: the one in memory if held there (its live state),
    else made from the row (an evicted order: closed, as stored)."""
    records, book = node.records, node.book
    registry = node.registry

    def text(row: tuple[Any, ...]) -> str | None:
        h = bytes.fromhex(str(row[0])[2:])
        rec = records.get(h)
        if rec is not None:
            return registry.record_text(rec)
        if h in book:  # (read back meanwhile: the slow path, which looks at the book)
            rec_json = node.registry.json_of(h)
            return _ENCODE(rec_json) if rec_json is not None else None
        return stored_text(row, domain)

    domain = node.domain
    return text


def stored_text(row: tuple[Any, ...], domain: Domain) -> str | None:
    """An evicted order's record text from its row, the order's text as stored (checked to be
    an order object whose hash under ``domain`` is the row's first); None (logged) for a row
    that is not one."""
    hash_hex, _, order_json, status, filled, reason, source, created, _, _, taker = row[:11]
    try:
        order = stored(order_json, ORDER_DEPTH)
        if not isinstance(order, dict):
            raise TypeError("not an object")
        if not _hash_is(hash_hex, order_json, order, domain):  # (leftovers38)
            raise ValueError("the row's hash is not its order's")
        maker_amount, at = int(order["makerAmount"]), float(created)
        named = order["taker"]  # (store37: ?takerAddress= lists by the row's column)
        if not isinstance(named, str) or taker != named.lower():
            raise ValueError(f"taker {str(taker)[:80]!r} is not its order's")
        if not math.isfinite(at):
            raise ValueError(f"createdAt {at} is not a time")
        # (attack31: "-5" or 100 digits were listed as its filledMakerAmount)
        if not isinstance(filled, str) or not UINT_TEXT.fullmatch(filled):
            raise ValueError(f"filled {str(filled)[:80]!r} is not an amount")
        if (done := int(filled)) > maker_amount:
            raise ValueError(f"filled {filled[:80]} is more than the order's makerAmount")
        state = OrderStatus(status)
        meta = meta_text(
            str(hash_hex), state, done, 0, 0, maker_amount - done, at,
            str(source), str(reason), cancel_at(row[11:]),
        )  # fmt: skip
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        if len(_UNLISTABLE) < MAX_UNLISTABLE_NAMED and hash_hex not in _UNLISTABLE:
            _UNLISTABLE.add(hash_hex)  # (logged once a row, not at every page that holds it)
            log.warning("stored order %.80s cannot be listed (skipped): %.200s", hash_hex, e)
        return None
    return f'{{"order": {order_json}, "metaData": {meta}}}'


MAX_HASHED = 2048
"""Rows whose order text was found to hash to the row's hash, remembered (``_hash_is``)."""
_HASHED: dict[str, tuple[Domain, object]] = {}


def _hash_is(hash_hex: object, text: object, order: dict[str, Any], domain: Domain) -> bool:
    """Whether ``order`` (``text`` parsed) hashes to ``hash_hex`` under ``domain``: its
    EIP-712 hash computed (~6 us: as much again as the rest of a row's record), or the same
    text already found to (the last ``MAX_HASHED`` rows, forgotten all at once when full: a
    walk of many pages lists each row once). Before (leftovers38), a row given another
    order's JSON was listed as that order under the row's hash."""
    if type(hash_hex) is not str:
        return False
    known = _HASHED.get(hash_hex)
    if known is not None and known[0] is domain and known[1] == text:
        return True
    if "0x" + domain.order_hash(Order.from_json(order)).hex() != hash_hex:
        return False
    if len(_HASHED) >= MAX_HASHED:
        _HASHED.clear()
    _HASHED[hash_hex] = (domain, text)
    return True


async def orders_page(
    request: web.Request, node: Node, filters: dict[str, str], page: int, per_page: int
) -> web.Response:
    cursor = cursor_of(request, len(ORDER_KEY))  # (refused before anything waits or reads)
    if "status" in filters:  # (read from the rows: those of the statuses a client saw)
        await _listable(node.rows_listable())
    got = await _read(node.store.order_rows(filters, page, per_page, cursor))
    [(records, _)] = await sliced(request, [got.rows], order_text(node))
    store_page_listed(request, len(got.rows), got.read)
    return json_answer(listing_text(got, per_page, records, chain_note(node)))


def store_page_listed(request: web.Request, records: int, read: int) -> None:
    """A store page of ``records`` records that read ``read`` rows besides (``Page.read``: a
    filter no index serves, a count, an offset) is charged them as an order book page its
    walk: to its client (``listed``) and to the node's total. review18: a page of a status
    few orders have read every row after its cursor for 1 record (100,000 orders: 43 ms of
    a reading thread), and one client, 8 pages at a time, kept both reading threads busy
    (another client's small page: p50 215 ms)."""
    listed(request, records, read)
    request.app[LANE_KEY].charge(read / WALKED_PER_RECORD)


async def _listable(wait: Awaitable[None]) -> None:
    """The writes in flight a listing waits for (read-your-writes), or 503 (a stall)."""
    try:
        await wait
    except StoreError as e:
        raise ApiError(503, 100, str(e), headers={"Retry-After": "1"}) from None


async def _read(read: Awaitable[T]) -> T:
    """A listing's page read, or 503 when the store refuses it (review97e: a refused read,
    a locked or failing disk, answered 500 "internal error")."""
    try:
        return await read
    except (sqlite3.Error, StoreError) as e:
        said = f"the store refused to read the listing ({type(e).__name__}: {str(e)[:200]})"
        raise ApiError(503, 100, said + ": ask again later", headers={"Retry-After": "1"}) from None


async def fills_page(
    request: web.Request, node: Node, page: int, per_page: int, order_hash: str | None
) -> web.Response:
    cursor = cursor_of(request, len(FILL_KEY), FILL_TAG)
    await _listable(node.fills_listable())  # (an order read "filled" has its fills listed)
    got = await _read(node.store.fill_rows(page, per_page, order_hash, cursor))
    [(records, _)] = await sliced(request, [got.rows], lambda f: _ENCODE(fill_json(f, f.ours)))
    store_page_listed(request, len(got.rows), got.read)
    return json_answer(listing_text(got, per_page, records, chain_note(node)))


async def book_page(
    request: web.Request,
    node: Node,
    base: str,
    quote: str,
    page: int,
    per_page: int,
    viewer: str | None = None,
) -> web.Response:
    """``{"bids": page, "asks": page}`` of the orders the pair offers (``UnknownPair`` for a
    pair the node does not list): the orders chosen, and each side's total, read from the
    book's levels (no await: one instant; O(levels + the page), ``PairBook.offered``),
    their records built in the lane. Orders restricted to a taker other than ``viewer``
    are left out (``sdex.node.takers``: the public book, ``viewer`` None, shows only orders
    anyone may take)."""
    pair = node.book.pair(base, quote)
    first, end = (page - 1) * per_page, page * per_page
    totals: list[int] = []
    chosen: list[list[bytes]] = []
    prices: dict[bytes, str] = {}  # each order's level (``/v1/depth``'s price), when chosen
    walked = 0
    for side in (Side.BID, Side.ASK):
        total, entries, read = offered(pair, side, first, end, viewer)
        walked += read
        totals.append(total)
        chosen.append([e.signed.hash for e in entries])
        for e in entries:
            level = e.level
            if level is not None:  # (always: offered orders are in their level's queue)
                prices[e.signed.hash] = f', "levelPrice": "{level.num}/{level.den}"'
    records, registry = node.records, node.registry

    def text(h: bytes) -> str | None:
        rec = records.get(h)
        return registry.record_text(rec, prices.get(h, "")) if rec is not None else None

    (bids, nb), (asks, na) = await sliced(request, chosen, text)
    listed(request, nb + na, walked)  # (the walk is charged too: review14)
    request.app[LANE_KEY].charge(walked / WALKED_PER_RECORD)  # (and to the node's: review16)
    return json_answer(
        f'{{"bids": {page_text(totals[0], page, per_page, bids)}, '
        f'"asks": {page_text(totals[1], page, per_page, asks)}{chain_note(node)}}}'
    )
