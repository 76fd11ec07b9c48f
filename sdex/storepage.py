"""The store's listing pages (``GET /v1/orders``, ``/v1/fills``): by number (``page``, the
0x Standard Relayer API's, PRODUCT.md) or by cursor (``next``, a page's key: where the walk
goes on).

A page by number counts the rows that match (``total``) and skips the pages before it
(``OFFSET``): both cost every row before it, 135 ms for a page near the end of 100,000
orders (docs/BENCHMARKS.md, leftovers17), and a walk by numbers skips a record or lists one
twice when rows matching the listing come or go between two pages (an order that closes,
on a ``status=open`` walk, moves every later one a place back: one is skipped).

A page by cursor reads the rows after the previous page's last key in the listing's order
(``seq``, the arrival order, for orders; ``seq``, the order stored, for fills: the chain's
but for a reorg's), through an index: it costs its own rows (0.2 ms there), and a walk
lists every row that matched all along once, in order, whatever comes or goes meanwhile
(rows that arrive come at the end: orders and fills get the next ``seq``, never one given
before, also to a fill a reorg undid and the new branch has again). Its ``total`` and
``page`` are the walk's, carried by the cursor: ``total`` as counted for the walk's first
page (counting again would cost what the cursor saves). A cursor is this module's text
(``Cursor.text``; a fills cursor begins with ``FILL_TAG``); a forged one can only change
its own answer's ``page`` and ``total`` and where its walk goes on.

Every page, by number or cursor, says ``next``: the cursor of the page after it, or None
when it is the last (its query reads one row more than ``perPage`` to know), and ``read``:
about how many rows it read besides its own (SQLite's steps, counted), which a listing
charges (review18: ``status`` has no index, so a page of a status few orders have read the
whole table after its cursor, or counted it, for 1 record of the client's budget).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

R = TypeVar("R")
MAX_KEY = 2**63 - 1
"""SQLite's largest integer: a key part, a ``total``."""
MAX_PAGE = 10**9
"""The largest page number (as ``GET /v1/orders?page=`` takes)."""
MAX_CURSOR_CHARS = 100
STEPS_PER_ROW = 3
"""SQLite's steps (virtual machine instructions) to read a row a page's query skips: a scan
of ``status`` (a column compared, the next row), or one counted (``COUNT(*) WHERE``)."""
STEPS_FREE_PER_ROW = 30
"""Steps a page's own row (one asked for: ``perPage`` + 1) may take uncharged: a row of
``GET /v1/orders``' 14 columns read through an index takes ~19."""
STEPS_COUNTED = 1_000
"""Steps between two calls of the counter (SQLite's progress handler)."""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a walk goes on: after the row of ``key`` (in the listing's order), as page
    ``page`` of a walk whose first page counted ``total`` rows."""

    key: tuple[int, ...]
    page: int
    total: int

    def text(self, tag: str = "") -> str:
        """The cursor as a client sends it back: ``tag`` (its listing's), then its integers
        joined by dots."""
        return tag + ".".join(str(n) for n in (*self.key, self.page, self.total))

    @classmethod
    def parse(cls, raw: str, key_parts: int, tag: str = "") -> Cursor | None:
        """``text``'s cursor of a listing keyed by ``key_parts`` integers (its text begun
        by ``tag``), or None for anything else (too long, another listing's, not plain
        ASCII digits, a part out of range)."""
        if len(raw) > MAX_CURSOR_CHARS or not raw.startswith(tag):
            return None
        parts = raw[len(tag) :].split(".")
        if len(parts) != key_parts + 2:
            return None
        bounds = [(0, MAX_KEY)] * key_parts + [(2, MAX_PAGE), (0, MAX_KEY)]
        values: list[int] = []
        for part, (lo, hi) in zip(parts, bounds, strict=True):
            if not (0 < len(part) <= len(str(hi)) and part.isascii() and part.isdigit()):
                return None
            value = int(part)
            if not lo <= value <= hi:
                return None
            values.append(value)
        return cls(tuple(values[:key_parts]), values[-2], values[-1])


@dataclass(frozen=True, slots=True)
class Page(Generic[R]):
    """A listing's page: ``total`` rows matched (at the walk's first page, for a page by
    cursor), this page's number, its rows, and the cursor of the next page (None: the last)."""

    total: int
    page: int
    rows: list[R]
    next: str | None
    read: int = 0
    """About how many rows the page's query read besides its own (SQLite's steps, counted)."""

    def map(self, fn: Callable[[Any], R]) -> Page[R]:
        """The same page with each row made into ``fn(row)``."""
        return Page(self.total, self.page, [fn(r) for r in self.rows], self.next, self.read)


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing's query: ``select`` (its rows) from ``table``, where every one of
    ``conds`` holds (with ``args``), in the order of ``key`` (columns that identify a row, an
    index's: the cursor's key), whose values are ``row[i]`` for ``i`` in ``key_at``; its
    cursors' text begins with ``tag``."""

    select: str
    table: str
    conds: Sequence[str]
    args: Sequence[object]
    key: Sequence[str]
    key_at: Sequence[int]
    tag: str = ""
    counted: tuple[str, Sequence[object]] | None = None
    """A cheaper count of the rows that match (a query of one integer, and its arguments)
    than ``COUNT(*)`` of them: ``GET /v1/orders?status=`` reads ``order_counts``."""

    def page(self, page: int, per_page: int, cursor: Cursor | None) -> PageQuery:
        """The read of page ``page`` (1-indexed) of ``per_page`` rows, or of the page after
        ``cursor`` (``page`` ignored), in one read transaction (one snapshot)."""
        order = ", ".join(self.key)

        def query(db: sqlite3.Connection) -> Page[Any]:
            steps = [0]

            def counted() -> int:
                steps[0] += STEPS_COUNTED
                return 0  # (go on)

            db.set_progress_handler(counted, STEPS_COUNTED)
            try:
                got = read(db)
            finally:
                db.set_progress_handler(None, 0)
            beyond = max(0, steps[0] - STEPS_FREE_PER_ROW * (per_page + 1))
            return Page(got.total, got.page, got.rows, got.next, beyond // STEPS_PER_ROW)

        def read(db: sqlite3.Connection) -> Page[Any]:
            conds, args = list(self.conds), list(self.args)
            if cursor is None:
                sql, count_args = self.counted or (
                    f"SELECT COUNT(*) FROM {self.table}{_where(conds)}",
                    args,
                )
                total = int(db.execute(sql, count_args).fetchone()[0])
                number, skip = page, (page - 1) * per_page
            else:
                after = ", ".join("?" * len(self.key))
                conds.append(f"({order}) > ({after})" if len(self.key) > 1 else f"{order} > ?")
                args += cursor.key
                total, number, skip = cursor.total, cursor.page, 0
            rows = db.execute(
                f"{self.select}{_where(conds)} ORDER BY {order} LIMIT ? OFFSET ?",
                [*args, per_page + 1, skip],
            ).fetchall()
            more = len(rows) > per_page
            rows = rows[:per_page]
            if not more:
                return Page(total, number, rows, None)
            last = tuple(int(rows[-1][i]) for i in self.key_at)
            return Page(total, number, rows, Cursor(last, number + 1, total).text(self.tag))

        return query


PageQuery = Callable[[sqlite3.Connection], Page[Any]]


def _where(conds: Sequence[str]) -> str:
    return (" WHERE " + " AND ".join(conds)) if conds else ""


ORDER_KEY = ("seq",)
"""The orders' listing order (the arrival order; the table's rowid)."""
FILL_KEY = ("seq",)
"""The fills' listing order: the order the node stored them (index ``fills_seq``; a ``seq``
is never given twice: ``sdex.storeschema.FILL_SEQ_KEY``). That is about the chain's order
(one write's fills in chain order; a receipt's fills may be stored before the watcher's of
an earlier block), but a fill a reorg undid and the new branch has again (or one the new
branch adds in an earlier place), stored anew, comes after those stored before it.
review18: in chain order, a walk whose cursor had passed that place never listed it."""
FILL_TAG = "f"
"""The fills' cursors begin with it (one of ``GET /v1/orders`` is refused there)."""
