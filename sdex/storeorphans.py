"""Peers' soft cancels of orders the node does not hold yet (``sdex.node.orphans``), kept in
its SQLite database (``orphan_cancels``): a cancel the node acknowledged (202) still applies
to its order after a restart. Bounded as in memory (the node deletes the rows it forgets);
every row read back is checked (one that is not a hash, a 65-byte signature and a time is
skipped), and a table of another shape is dropped and made again at the start."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable

from sdex.sqlwriter import Writer

log = logging.getLogger(__name__)

OrphanRow = tuple[bytes, bytes, str, str, float]
"""(order hash, signature, sender, bucket, wall-clock time it came)."""


def parse_row(row: tuple[object, ...]) -> OrphanRow | None:
    """A stored row, or None if it is not one (an edit, a disk error)."""
    try:
        h, sig, sender, bucket, at = row
        if not (isinstance(h, str) and isinstance(sig, str) and isinstance(at, float | int)):
            return None
        order_hash, signature = bytes.fromhex(h.removeprefix("0x")), bytes.fromhex(sig[2:])
    except ValueError:
        return None
    if len(order_hash) != 32 or len(signature) != 65 or not sig.startswith("0x"):
        return None
    return order_hash, signature, str(sender), str(bucket), float(at)


class OrphanStore:
    """The ``orphan_cancels`` writes and read of ``sdex.store.Store`` (its single writer)."""

    _writer: Writer

    def keep_orphan(self, row: OrphanRow) -> asyncio.Future[None]:
        """Write one kept cancel; queued on the event loop, resolves at the commit."""
        h, sig, sender, bucket, at = row
        args = ("0x" + h.hex(), "0x" + sig.hex(), sender, bucket, at)

        def add(db: sqlite3.Connection) -> None:
            db.execute("INSERT OR IGNORE INTO orphan_cancels VALUES (?,?,?,?,?)", args)

        return self._writer.submit_async(add)

    def free_orphans(self, slots: Iterable[tuple[bytes, bytes, str]]) -> asyncio.Future[None]:
        """Delete these (order hash, signature, bucket) rows: a count let its slot go while
        another holds the cancel (``OrphanCancels.freed``); queued as ``keep_orphan``."""
        rows = [("0x" + h.hex(), "0x" + s.hex(), bucket) for h, s, bucket in slots]

        def free(db: sqlite3.Connection) -> None:
            db.executemany(
                "DELETE FROM orphan_cancels WHERE order_hash=? AND signature=? AND bucket=?", rows
            )

        return self._writer.submit_async(free)

    def forget_orphans(self, keys: Iterable[tuple[bytes, bytes]]) -> asyncio.Future[None]:
        """Delete these (order hash, signature) rows, each count's; queued as ``keep_orphan``."""
        rows = [("0x" + h.hex(), "0x" + s.hex()) for h, s in keys]

        def forget(db: sqlite3.Connection) -> None:
            db.executemany("DELETE FROM orphan_cancels WHERE order_hash=? AND signature=?", rows)

        return self._writer.submit_async(forget)

    async def orphan_rows(self, since: float, most: int) -> list[OrphanRow]:
        """The rows that came after ``since`` (the older ones deleted), the newest ``most``,
        oldest first; rows that are not one skipped, logged."""

        def read(db: sqlite3.Connection) -> list[tuple[object, ...]]:
            db.execute("DELETE FROM orphan_cancels WHERE at <= ?", (since,))
            sql = (
                "SELECT * FROM (SELECT order_hash, signature, sender, bucket, at"
                " FROM orphan_cancels ORDER BY at DESC LIMIT ?) ORDER BY at"
            )
            return db.execute(sql, (most,)).fetchall()

        raw = await asyncio.wrap_future(self._writer.submit(read))
        rows = [r for r in map(parse_row, raw) if r is not None]
        if len(rows) < len(raw):
            log.warning("orphan_cancels: %d rows skipped (not a kept cancel)", len(raw) - len(rows))
        return rows
