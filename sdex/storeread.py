"""The read side of a node's store (``sdex.store``): orders and fills read back (each
order's row believed only as this node writes it: ``sdex.storerows``), the pages the API
lists, and the reads of orders that are no longer held in memory.

Two ways to read. Through the writer thread (``_call``, ``_call_async``): the read sees
every write queued before it, and waits for its turn. Through the reader connection
(``*_now``): a second, read-only connection used on the caller's thread, which sees what is
committed (WAL: readers never wait for the writer) and nothing queued. The node reads an
order it evicted from memory this way (``sdex.node.registry``): it evicts an order only once
its row is committed, so the committed row is the order's whole state. A database in
memory (``:memory:``, tests) has no second connection: its reads go through the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from sdex.model import OrderStatus
from sdex.order import Domain
from sdex.sqlwriter import StoreError, Writer
from sdex.storefills import StoredFill as StoredFill
from sdex.storefills import fill_of as fill_of
from sdex.storefills import fills_of
from sdex.storepage import FILL_KEY, FILL_TAG, ORDER_KEY, Cursor, Listing, Page
from sdex.storerows import SEQ_LIMIT, StoredOrder, hash_of_mark, mark_of, order_of_row
from sdex.storeschema import (
    CANCELLED_FILLED_AFTER,
    ORDER_SELECT,
    REMOVED_FILLED_AFTER,
    SOFT_CANCELS_AFTER,
    UNUSABLE,
    ZERO_TAKER,
)

log = logging.getLogger("sdex.store")
T = TypeVar("T")
OrderRow = tuple[str, str, int, str]
"""An order's (hash hex, status, filled, reason)."""


LISTING_READS = 2
"""Listings (``GET /v1/orders``, ``/v1/fills``) read at once, each in a worker thread; the
others wait their turn on the event loop (a scan of a large table is bounded work, but many
at once would take every core)."""

DAMAGED_NAMED = 16
"""Hashes of damaged rows /health names (``StoreReads.damaged_rows``)."""
MAX_UNPARSEABLE_NAMED = 4096
"""Unparseable rows remembered by hash (a row read again is not counted nor logged again);
past these, each is still counted (``unparseable_count``), read again counted again."""


class StoreReads:
    """The reads of ``sdex.store.Store`` (which opens the connections)."""

    path: str
    domain: Domain
    _writer: Writer
    _reader: sqlite3.Connection | None
    _listings: asyncio.Semaphore
    """``LISTING_READS`` slots."""
    unparseable_rows: set[str]
    """Hashes of the stored order rows that could not be parsed (logged and skipped by the
    walks, lookups and the start's load that read orders back: one bad row cannot stall
    them), at most ``MAX_UNPARSEABLE_NAMED``."""
    unparseable_count: int
    """Unparseable rows met (each of ``unparseable_rows`` once; past those, each time)."""
    damaged_stored: set[str]
    """Hashes of the rows a start closed as unparseable, this one or an earlier one
    (``close_unparseable``), at most ``MAX_UNPARSEABLE_NAMED``."""

    def damaged_rows(self) -> dict[str, object]:
        """/health's ``store.damagedRows``: the stored order rows known damaged (closed
        unparseable at a start, or met unparseable since), how many and the first
        ``DAMAGED_NAMED`` hashes: acknowledged orders out of the book till the operator
        repairs their rows (or their makers sign them again)."""
        named = self.damaged_stored | self.unparseable_rows
        return {"count": len(named), "hashes": sorted(named)[:DAMAGED_NAMED]}

    def is_damaged(self, hash_hex: str) -> bool:
        """Whether an order's stored row is known damaged (``damaged_rows``)."""
        h = hash_hex.lower()
        return h in self.damaged_stored or h in self.unparseable_rows

    def _open_reader(self) -> None:
        """The read-only connection of ``*_now`` (none for a database in memory)."""
        self._listings = asyncio.Semaphore(LISTING_READS)
        self._reader = None
        if self.path != ":memory:":
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            self._reader = sqlite3.connect(
                uri, uri=True, isolation_level=None, check_same_thread=False
            )

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread; block until its transaction committed."""
        return self._writer.submit(fn).result()

    async def _call_async(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``_call`` awaited: the event loop runs on while the writer commits."""
        return await asyncio.wrap_future(self._writer.submit(fn))

    def _now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the reader connection, here (what is committed); through the
        writer for a database in memory."""
        return fn(self._reader) if self._reader is not None else self._call(fn)

    # -- orders ----------------------------------------------------------------------------
    def order(self, hash_hex: str) -> StoredOrder | None:
        key = (hash_hex.lower(),)
        row = self._call(lambda db: db.execute(ORDER_SELECT + " WHERE hash=?", key).fetchone())
        return order_of_row(row, self.domain) if row else None

    def order_now(self, hash_hex: str) -> StoredOrder | None:
        """The committed row of an order (``order`` without waiting for the writer)."""
        key = (hash_hex.lower(),)
        row = self._now(lambda db: db.execute(ORDER_SELECT + " WHERE hash=?", key).fetchone())
        return self._parsed(row) if row else None

    def holds_now(self, hash_hex: str) -> bool:
        """Whether the order's row is committed (a point lookup, without the writer); an
        unusable row (``UNUSABLE``) holds no order."""
        sql, key = f"SELECT 1 FROM orders WHERE hash=? AND NOT ({UNUSABLE})", (hash_hex.lower(),)
        return bool(self._now(lambda db: db.execute(sql, key).fetchone() is not None))

    async def holds_order(self, hash_hex: str) -> bool:
        """Whether the order's row is committed (every write queued before this is, first);
        an unusable row holds no order."""
        sql, key = f"SELECT 1 FROM orders WHERE hash=? AND NOT ({UNUSABLE})", (hash_hex.lower(),)
        return await self._call_async(lambda db: db.execute(sql, key).fetchone() is not None)

    async def order_rows_of(self, hashes: Sequence[str]) -> list[tuple[Any, ...]]:
        """The committed rows (``ORDER_SELECT``'s columns, unparsed) of those of these orders
        (0x-hex) that are stored, read as a listing is (``_listing``: a worker thread, the
        event loop runs on). ``/web/orders`` reads evicted orders so: each was a read and a
        parse on the event loop (``order_now``)."""
        keys = [h.lower() for h in hashes]
        sql = ORDER_SELECT + " WHERE hash IN ({})"
        return await self._listing(lambda db: _in_chunks(db, sql, keys))

    async def orders_of(self, hashes: Sequence[str]) -> list[StoredOrder]:
        """Those of these orders (0x-hex) that are stored, parsed (a row that is not an
        order: skipped, logged), read and parsed off the event loop (``order_rows_of``'s
        worker thread): ``IN_CHUNK`` hashes a statement, not a read each (gate77: a start's
        rechecks, up to ``RECHECKS_READ``, were one ``order_now`` each on the loop)."""
        keys = [h.lower() for h in hashes]
        sql = ORDER_SELECT + " WHERE hash IN ({})"

        def read(db: sqlite3.Connection) -> list[StoredOrder]:
            parsed = (self._parsed(row) for row in _in_chunks(db, sql, keys))
            return [s for s in parsed if s is not None]

        return await self._listing(read)

    async def committed_rows(self, hashes: Sequence[str]) -> dict[str, tuple[OrderRow, str]]:
        """(hash, status, filled, reason) of these orders, and their soft cancel's proof
        (0x-hex as stored, "" none), once every write queued before this call is committed:
        what a restart would find (review93c: without the proof, a row whose close committed
        and whose proof was refused read as stored, and the eviction dropped the proof)."""
        keys = [h.lower() for h in hashes]
        sql = "SELECT hash, status, filled, reason, cancel_sig FROM orders WHERE hash IN ({})"
        rows = await self._call_async(lambda db: _in_chunks(db, sql, keys))
        return {str(h): ((str(h), str(s), int(f), str(r)), str(c)) for h, s, f, r, c in rows}

    async def cancel_signatures(self, hashes: Sequence[str]) -> dict[str, str]:
        """The soft-cancel signatures (0x-hex, as stored) of those of these orders that
        have one, by hash: indexed reads of two columns (no order parsed), on the writer
        thread (awaited: the event loop runs on)."""
        keys = [h.lower() for h in hashes]
        sql = "SELECT hash, cancel_sig FROM orders WHERE hash IN ({}) AND cancel_sig != ''"
        rows = await self._call_async(lambda db: _in_chunks(db, sql, keys))
        return {str(h): str(sig) for h, sig in rows}

    def count_except(self, statuses: Sequence[str]) -> int:
        """How many orders have none of ``statuses``."""
        sql = f"SELECT COUNT(*) FROM orders WHERE status NOT IN ({','.join('?' * len(statuses))})"
        args = list(statuses)
        return int(self._now(lambda db: db.execute(sql, args).fetchone()[0]))

    async def each_hash(self, fn: Callable[[bytes], None]) -> None:
        """``fn`` of every order's hash, streamed off the event loop and off the writer
        thread (a filter rebuilt from the store: durable writes do not wait for it): a
        read-only connection of its own walks the primary key's index in a worker thread
        (on the writer thread for a database in memory)."""
        await self._each("SELECT hash FROM orders", fn)

    async def each_mark(self, fn: Callable[[bytes], None]) -> None:
        """``fn`` of the hash of every order the chain filled or cancelled (``mirror_orders``
        rows not zero), streamed as ``each_hash``."""
        await self._each(MARKED_SELECT, fn)

    def marks_now(self) -> Iterator[bytes]:
        """The hashes ``each_mark`` names, streamed here on the reader connection;
        ``ValueError`` at a hash not as this node writes it (``hash_of_mark``)."""
        for (h,) in self._rows(MARKED_SELECT, []):
            yield hash_of_mark(h)

    def mirror_order_now(self, h: bytes) -> tuple[int, bool] | None:
        """The committed mirror row of an order hash: (filled, cancelled); None if none.
        ``ValueError`` for a row this node does not write (``mark_of``)."""
        key = ("0x" + h.hex(),)
        sql = "SELECT filled, cancelled FROM mirror_orders WHERE hash=?"
        row = self._now(lambda db: db.execute(sql, key).fetchone())
        return None if row is None else mark_of(row[0], row[1])

    async def _each(self, sql: str, fn: Callable[[bytes], None]) -> None:
        def walk(db: sqlite3.Connection) -> None:
            for (h,) in db.execute(sql):
                fn(bytes.fromhex(str(h)[2:]))

        if self._reader is None:
            await self._call_async(walk)
            return
        await asyncio.to_thread(self._on_own_connection, walk)

    def _on_own_connection(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` on a read-only connection opened for it here (this thread's own), in one
        read transaction (one snapshot, whatever is committed meanwhile)."""
        uri = Path(self.path).resolve().as_uri() + "?mode=ro"
        db = sqlite3.connect(uri, uri=True, isolation_level=None)
        try:
            db.execute("BEGIN")
            return fn(db)
        finally:
            db.close()  # (a read transaction: nothing to commit)

    async def _listing(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn`` (a listing's count and page) on a read-only connection of its own in a
        worker thread: it sees what is committed and waits for no write, and no write
        (nor the 2xx a wallet waits for) waits for it; at most ``LISTING_READS`` at once.
        Through the writer for a database in memory."""
        if self._reader is None:
            return await self._call_async(fn)
        async with self._listings:
            return await asyncio.to_thread(self._on_own_connection, fn)

    def hashes_except(self, statuses: Sequence[str]) -> Iterator[bytes]:
        """The hashes of the orders whose status is none of ``statuses``, streamed (the
        reader connection walks them: no list of them all)."""
        sql = f"SELECT hash FROM orders WHERE status NOT IN ({','.join('?' * len(statuses))})"
        return self._stream(sql, list(statuses))

    def _stream(self, sql: str, args: list[object]) -> Iterator[bytes]:
        for (h,) in self._rows(sql, args):
            yield bytes.fromhex(str(h)[2:])

    def _rows(self, sql: str, args: list[object]) -> Iterator[Any]:
        if self._reader is None:
            return iter(self._call(lambda db: db.execute(sql, args).fetchall()))
        return self._reader.execute(sql, args)

    def last_seq(self) -> int:
        row = self._call(
            lambda db: db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM orders WHERE seq < ?", (SEQ_LIMIT,)
            ).fetchone()
        )  # (a row past the bound is refused at load: ``order_of_row``)
        return int(row[0])

    def orders(
        self, statuses: Sequence[str] | None = None, skipped: list[str] | None = None
    ) -> Iterator[StoredOrder]:
        """All orders in arrival order, optionally only those with the given statuses (a row
        that cannot be parsed is left out, counted: ``unparseable_rows``; its hash, as
        stored, appended to ``skipped``)."""
        sql, args = ORDER_SELECT, []
        if statuses:
            sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
            args = list(statuses)
        rows = self._call(lambda db: db.execute(sql + " ORDER BY seq", args).fetchall())
        for row in rows:
            s = self._parsed(row)
            if s is not None:
                yield s
            elif skipped is not None:
                skipped.append(str(row[0]))

    async def orders_after(
        self,
        statuses: Sequence[str],
        maker: str | None,
        after: int,
        limit: int,
        skip_reasons: Sequence[str] = (),
    ) -> tuple[list[StoredOrder], int]:
        """Up to ``limit`` orders with one of ``statuses`` (of ``maker``, if given; none
        closed for one of ``skip_reasons``), of arrival sequence above ``after``, in arrival
        order: a page of a walk, and the sequence the next page starts after (``after``
        when there are no more rows). A row that cannot be parsed is left out (logged,
        counted: ``unparseable_rows``), not an error: the walk goes on past it. One maker's walk
        follows the (maker, seq) index from ``after``: a page costs its rows, not all the
        maker's. Read and parsed on the writer thread (awaited: the event loop runs on)."""
        sql, args = orders_after_sql(statuses, maker, after, limit, skip_reasons)
        return await self._page_after(sql, args, after)

    async def soft_cancels_after(
        self, after: int, limit: int, now: int
    ) -> tuple[list[StoredOrder], int]:
        """``orders_after`` of the soft-cancelled orders unexpired at ``now`` (review44:
        every cancelled row since the node began, the oldest first, took a bootstrap's
        bounded pages): read by their index, a page costs the unexpired ones only."""
        return await self._page_after(SOFT_CANCELS_AFTER, (now, after, limit), after)

    async def removed_filled_after(self, after: int, limit: int) -> tuple[list[StoredOrder], int]:
        """``orders_after`` of the ``removed`` orders with a filled amount (a reset judges
        them again: the chain may no longer have it), read by their partial index: a page
        costs its rows, whatever the number of removed orders with nothing filled."""
        return await self._page_after(REMOVED_FILLED_AFTER, (after, limit), after)

    async def cancelled_filled_after(self, after: int, limit: int) -> tuple[list[StoredOrder], int]:
        """``removed_filled_after`` of the soft-cancelled orders (chaos66), by their own
        partial index."""
        return await self._page_after(CANCELLED_FILLED_AFTER, (after, limit), after)

    async def _page_after(
        self, sql: str, args: Sequence[object], after: int
    ) -> tuple[list[StoredOrder], int]:
        """A page of orders by ``sql`` (its rows' ``seq`` second), and the last ``seq``."""

        def page(db: sqlite3.Connection) -> tuple[list[StoredOrder], int]:
            rows = db.execute(sql, args).fetchall()
            parsed = [self._parsed(r) for r in rows]
            return [s for s in parsed if s is not None], int(rows[-1][1]) if rows else after

        return await self._call_async(page)

    async def query_orders(
        self, filters: dict[str, str], page: int, per_page: int
    ) -> tuple[int, list[StoredOrder]]:
        """A page of orders matching exact-value ``filters``, as committed (``_listing``:
        the event loop runs on while the page is counted and read).

        Filter keys: maker, maker_token, taker_token, taker, status."""
        got = await self.order_rows(filters, page, per_page)
        return got.total, [order_of_row(r, self.domain) for r in got.rows]

    async def order_rows(
        self, filters: dict[str, str], page: int, per_page: int, cursor: Cursor | None = None
    ) -> Page[tuple[Any, ...]]:
        """``query_orders``' page (or the page after ``cursor``: ``sdex.storepage``) as its
        raw rows (``ORDER_SELECT``'s columns), unparsed: ``GET /v1/orders`` builds its
        answer from them in slices (``sdex.node.pages``)."""
        allowed = {"maker", "maker_token", "taker_token", "taker", "status"}
        conds = [f"{k}=?" for k in filters if k in allowed]
        if filters.get("taker", ZERO_TAKER).lower() != ZERO_TAKER:  # (orders_taker_seq's)
            conds.append(f"taker!='{ZERO_TAKER}'")
        args = [v.lower() if k != "status" else v for k, v in filters.items() if k in allowed]
        counted: tuple[str, list[object]] | None = None
        if all(k == "status" for k in filters if k in allowed):  # (kept by triggers)
            status = filters.get("status")
            counted = (
                ("SELECT COALESCE(SUM(n), 0) FROM order_counts", [])
                if status is None
                else ("SELECT COALESCE(SUM(n), 0) FROM order_counts WHERE status=?", [status])
            )
        listing = Listing(ORDER_SELECT, "orders", conds, args, ORDER_KEY, (1,), "", counted)
        return await self._listing(listing.page(page, per_page, cursor))

    def _parsed(self, row: tuple[Any, ...]) -> StoredOrder | None:
        """``order_of_row``, or None (logged, counted) for a row that is not an order."""
        try:
            s = order_of_row(row, self.domain)
            OrderStatus(s.status)
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            bad, h = self.unparseable_rows, str(row[0])
            if h not in bad:
                self.unparseable_count += 1
                if len(bad) < MAX_UNPARSEABLE_NAMED:  # (logged once a row)
                    bad.add(h)
                    log.warning("stored order %.80s cannot be parsed (skipped): %.200s", h, e)
                    self._mark_damaged(h)
            return None
        return s

    def _mark_damaged(self, hash_hex: str) -> None:
        """``hash_hex``'s row marked damaged in the store (``damaged_orders``), queued, not
        waited for: every later start names it too (users86: a closed row met damaged during
        a run was named by that run only)."""
        at = time.time()

        def mark(db: sqlite3.Connection) -> None:
            sql = "INSERT OR IGNORE INTO damaged_orders (hash, found_at) VALUES (?, ?)"
            db.execute(sql, (hash_hex, at))

        with contextlib.suppress(StoreError):  # (the store closing: a later read marks it)
            self._writer.submit(mark).add_done_callback(_mark_failed)

    # -- fills -----------------------------------------------------------------------------
    def fills(
        self,
        page: int = 1,
        per_page: int = 100,
        order_hash: str | None = None,
        above_block: int | None = None,
    ) -> tuple[int, list[StoredFill]]:
        """A page of fills in the order stored (on the writer thread; the caller waits)."""
        got = self._call(_fills_listing(order_hash, above_block).page(page, per_page, None))
        return got.total, fills_of(got.rows)

    async def fills_page(
        self, page: int, per_page: int, order_hash: str | None = None
    ) -> tuple[int, list[StoredFill]]:
        """``fills`` as committed (``_listing``: the event loop runs on meanwhile)."""
        got = await self.fill_rows(page, per_page, order_hash)
        return got.total, got.rows

    async def fill_rows(
        self, page: int, per_page: int, order_hash: str | None, cursor: Cursor | None = None
    ) -> Page[StoredFill]:
        """``fills_page``'s page, or the page after ``cursor`` (``sdex.storepage``)."""
        got = await self._listing(_fills_listing(order_hash, None).page(page, per_page, cursor))
        return Page(got.total, got.page, fills_of(got.rows), got.next, got.read)


def orders_after_sql(
    statuses: Sequence[str], maker: str | None, after: int, limit: int, skip: Sequence[str]
) -> tuple[str, list[object]]:
    """``StoreReads.orders_after``'s query and its arguments."""
    cond = f"seq > ? AND status IN ({','.join('?' * len(statuses))})"
    args: list[object] = [after, *statuses]
    if maker is not None:
        cond = "maker = ? AND " + cond
        args.insert(0, maker.lower())
    if skip:  # (policy closes, by reason; an order the chain closed and its maker
        # soft-cancelled since is read: a reorg or reset that undid its close makes it
        # ``cancelled`` with the chain's filled amount, ``_cancel_stands``. chaos61: skipped,
        # an evicted one stayed ``filled`` in full, the chain FILLABLE at 0)
        cond += f" AND reason NOT IN ({','.join('?' * len(skip))})"
        args += list(skip)
    return f"{ORDER_SELECT} WHERE {cond} ORDER BY seq LIMIT ?", [*args, limit]


MARKED_SELECT = "SELECT hash FROM mirror_orders WHERE filled != '0' OR cancelled != 0"

IN_CHUNK = 500
"""Hashes per ``IN (...)`` list (SQLite's bound parameters are limited)."""


def _in_chunks(db: sqlite3.Connection, sql: str, keys: Sequence[str]) -> list[Any]:
    """The rows of ``sql`` (its ``{}``: the marks of an ``IN`` list) for ``keys``, read
    ``IN_CHUNK`` keys at a time (SQLite bounds a statement's parameters)."""
    rows: list[Any] = []
    for i in range(0, len(keys), IN_CHUNK):
        part = keys[i : i + IN_CHUNK]
        rows += db.execute(sql.format(",".join("?" * len(part))), part).fetchall()
    return rows


def _fills_listing(order_hash: str | None, above_block: int | None) -> Listing:
    """The fills (of one order, above a block), in the order stored (``FILL_KEY``)."""
    conds: list[str] = []
    args: list[object] = []
    if order_hash:
        conds.append("order_hash=?")
        args.append(order_hash.lower())
    if above_block is not None:
        conds.append("block_number > ?")
        args.append(above_block)
    return Listing("SELECT * FROM fills", "fills", conds, args, FILL_KEY, (11,), FILL_TAG)


def _mark_failed(done: Future[None]) -> None:
    if (e := done.exception()) is not None:
        log.warning("a damaged row's mark was not stored: %s", e)
