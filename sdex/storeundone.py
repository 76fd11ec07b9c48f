"""The fills a reorg undid, kept in the node's SQLite database (``undone_fills``): the
memory of ``sdex.node.fillmemory.UndoneFills`` survives a restart between a reorg and the
same settlement transaction mined again. A cache of what the watcher saw: bounded in rows
(the oldest go), every row read back checked (one that is not a fill's key and amount is
skipped), and a table of another shape is dropped and made again at the start."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence

from sdex.model import FillEvent
from sdex.sqlwriter import Writer

log = logging.getLogger(__name__)

UndoneKey = tuple[bytes, str]
"""(order hash, transaction hash in lower case)."""

UNDONE_KEPT = 10_000
"""Fills a reorg undid that a node remembers (the oldest forgotten first)."""


def keep_undone(db: sqlite3.Connection, fills: dict[UndoneKey, int], kept: int) -> None:
    """In the writer's transaction: write ``fills`` (each one's row moved to the newest),
    then forget the oldest rows past ``kept``. Also called by the store's removal of the
    fills a reorg undid, in its own transaction: no crash falls between the two."""
    (top,) = db.execute("SELECT max(seq) FROM undone_fills").fetchone()
    if isinstance(top, int) and top >= SEQ_RENUMBER:
        _renumber(db, kept)
    rows = [("0x" + h.hex(), tx.lower(), str(n)) for (h, tx), n in fills.items()]
    db.executemany(
        "INSERT OR REPLACE INTO undone_fills (order_hash, tx_hash, maker_filled) VALUES (?,?,?)",
        rows,
    )
    db.execute(
        "DELETE FROM undone_fills WHERE seq <= (SELECT seq FROM undone_fills"
        " ORDER BY seq DESC LIMIT 1 OFFSET ?)",
        (kept,),
    )


SEQ_RENUMBER = 2**62
"""A ``seq`` this high (another hand's row: this node counts up from 1) has the table's rows
numbered afresh before a write. At the largest 64-bit integer SQLite gives new rows random
ids, and the oldest-first trimming would forget arbitrary rows (review23)."""


def _renumber(db: sqlite3.Connection, kept: int) -> None:
    """The newest ``kept`` rows numbered 1, 2... in their order; the rest forgotten."""
    rows = db.execute(
        "SELECT order_hash, tx_hash, maker_filled FROM"
        " (SELECT * FROM undone_fills ORDER BY seq DESC LIMIT ?) ORDER BY seq",
        (kept,),
    ).fetchall()
    db.execute("DELETE FROM undone_fills")
    db.executemany(
        "INSERT INTO undone_fills (seq, order_hash, tx_hash, maker_filled) VALUES (?,?,?,?)",
        [(i, *row) for i, row in enumerate(rows, 1)],
    )


def undone_of(fills: Iterable[FillEvent]) -> dict[UndoneKey, int]:
    """``fills`` by their ``undone_fills`` key (a later one of a key replaces it)."""
    return {(f.order_hash, f.tx_hash.lower()): f.maker_filled for f in fills}


def _hex(value: object, size: int) -> bytes | None:
    if not isinstance(value, str) or len(value) != 2 + 2 * size or value[:2] != "0x":
        return None
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        return None


def _amount(value: object) -> int | None:
    if not isinstance(value, str) or not 0 < len(value) <= 78:
        return None
    if not value.isascii() or not value.isdigit():
        return None
    n = int(value)
    return n if 0 < n < 2**256 else None


def parse_rows(rows: Iterable[Sequence[object]]) -> tuple[dict[UndoneKey, int], int]:
    """Rows (order_hash, tx_hash, maker_filled), oldest first: the fills, and how many rows
    were skipped (not a 32-byte hash, a transaction hash, a uint256 amount > 0)."""
    fills: dict[UndoneKey, int] = {}
    skipped = 0
    for row in rows:
        order = _hex(row[0], 32) if len(row) == 3 else None
        tx = _hex(row[1], 32) if order is not None else None
        amount = _amount(row[2]) if tx is not None else None
        if order is None or tx is None or amount is None:
            skipped += 1
            continue
        key = (order, "0x" + tx.hex())
        fills.pop(key, None)
        fills[key] = amount
    return fills, skipped


class UndoneStore:
    """The ``undone_fills`` writes and read of ``sdex.store.Store`` (its single writer)."""

    _writer: Writer

    def add_undone(self, fills: dict[UndoneKey, int], kept: int) -> asyncio.Future[None]:
        """Write ``fills`` (each one's row moved to the newest), then forget the oldest rows
        past ``kept``; queued on the event loop, resolves at the commit."""
        fills = dict(fills)

        def add(db: sqlite3.Connection) -> None:
            keep_undone(db, fills, kept)

        return self._writer.submit_async(add)

    def forget_undone(self, keys: Iterable[UndoneKey]) -> asyncio.Future[None]:
        """Delete these fills' rows (applied: mined again); queued as ``add_undone``."""
        rows = [("0x" + h.hex(), tx.lower()) for h, tx in keys]

        def forget(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM undone_fills WHERE order_hash=? AND tx_hash=?", rows)

        return self._writer.submit_async(forget)

    async def undone_fills(self, kept: int) -> dict[UndoneKey, int]:
        """The newest ``kept`` rows' fills, oldest first (rows that are not: skipped, logged)."""

        def read(db: sqlite3.Connection) -> list[tuple[object, ...]]:
            sql = (
                "SELECT order_hash, tx_hash, maker_filled FROM"
                " (SELECT * FROM undone_fills ORDER BY seq DESC LIMIT ?) ORDER BY seq"
            )
            return db.execute(sql, (kept,)).fetchall()

        fills, skipped = parse_rows(await asyncio.wrap_future(self._writer.submit(read)))
        if skipped:
            log.warning("undone_fills: %d rows skipped (not a fill's key and amount)", skipped)
        return fills
