"""The orders due a recheck (``sdex.node.rechecks``), kept in the node's SQLite database
(``rechecks``, made by ``sdex.storememo``): a start judges again those a kill left due. Every
row read back is checked (one that is not an order hash is skipped)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable

from sdex.sqlwriter import Writer

log = logging.getLogger(__name__)


RECHECKS_READ = 100_000
"""Rows of ``rechecks`` read back at a time, at most (``sdex.node.rechecks.RECHECKS_KEPT``:
the rest stay in the table, read back as the list drains)."""


A_HASH = (
    "typeof(order_hash) = 'text' AND length(order_hash) = 66 AND substr(order_hash, 1, 2) = "
    "'0x' AND substr(order_hash, 3) NOT GLOB '*[^0-9a-fA-F]*'"
)
"""A row that is an order hash. review97e: rows that are not (a damaged or edited file)
counted in a read's ``limit``: the read came back short of it, taken for the whole table
(``Rechecks``' spilled orders past them never read back); now never read, never counted."""


class RecheckStore:
    """The ``rechecks`` writes and read of ``sdex.store.Store`` (its single writer)."""

    _writer: Writer

    def write_rechecks(
        self, added: Iterable[bytes], dropped: Iterable[bytes]
    ) -> asyncio.Future[None]:
        """Rows for ``added``, none for ``dropped``; queued on the event loop in order with
        the order rows queued before it, resolved at the commit."""
        add = [("0x" + h.hex(),) for h in added]
        drop = [("0x" + h.hex(),) for h in dropped]

        def write(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM rechecks WHERE order_hash=?", drop)
            db.executemany("INSERT OR IGNORE INTO rechecks (order_hash) VALUES (?)", add)

        return self._writer.submit_async(write)

    async def rechecks(self, limit: int = RECHECKS_READ) -> list[bytes]:
        """The orders due a recheck, ``limit`` rows at most, the oldest first (rows that
        are not a 32-byte hash: skipped, logged)."""

        def read(db: sqlite3.Connection) -> list[tuple[object, ...]]:
            sql = f"SELECT order_hash FROM rechecks WHERE {A_HASH} ORDER BY rowid LIMIT ?"
            return db.execute(sql, (min(limit, RECHECKS_READ),)).fetchall()

        hashes, skipped = [], 0
        for (value,) in await asyncio.wrap_future(self._writer.submit(read)):
            h = _hash(value)
            if h is None:
                skipped += 1
            else:
                hashes.append(h)
        if skipped:
            log.warning("rechecks: %d rows skipped (not an order hash)", skipped)
        return hashes


def _hash(value: object) -> bytes | None:
    if not isinstance(value, str) or len(value) != 66 or not value.startswith("0x"):
        return None
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        return None
