"""Peers' delivered value (``sdex.gossip.standings.Standing.delivered``) kept in the node's
SQLite database (``peer_standings``), keyed by the id each peer proved, so a restart does not
hand the top places (``Peers.leading``: a bound of pending reads and a budget of chain reads
of their own) to whoever delivers first after it (sybil78: held in memory only, every restart
reset it, and 8 sybils that pushed their own account's orders held the 8 places until the
honest peers caught up, an hour).

At most ``MAX_KEPT`` rows, those whose points say they began earliest; each row's times are
ages at the save (how long before it the peer was credited through, and last delivered), so
the time the node was down counts as no peer's idleness. Every row read back is bounded (an
id of at most 66 characters, points within the cap, ages finite and not negative); one that
is not is skipped, logged; a table of another shape is made again at the next save."""

from __future__ import annotations

import asyncio
import logging
import math
import sqlite3
from collections.abc import Sequence
from string import hexdigits

from sdex.sqlwriter import Writer

log = logging.getLogger(__name__)

MAX_KEPT = 256
"""Peers' standings kept across a restart (4 tables' worth of ``peers.MAX_PEERS``)."""

MAX_KEY = 66
"""The longest id kept (a node id is a 42-character address)."""

StandingRow = tuple[str, int, float, float, float]
"""(peer id, points delivered, seconds since credited through, since it last delivered, since
an order it delivered first last traded), ages at the save."""

TABLE = """CREATE TABLE IF NOT EXISTS peer_standings (
    peer TEXT PRIMARY KEY,
    delivered INTEGER NOT NULL,
    credited_ago REAL NOT NULL,
    active_ago REAL NOT NULL,
    traded_ago REAL NOT NULL
)"""


def parse_row(row: Sequence[object], most: int) -> StandingRow | None:
    """A stored row, or None if it is not one (an edit, a disk error)."""
    if len(row) != 5:
        return None
    key, delivered, credited, active, traded = row
    if not (isinstance(key, str) and key.startswith("0x") and 2 < len(key) <= MAX_KEY):
        return None
    if any(ch not in hexdigits for ch in key[2:]):
        return None
    if not (isinstance(delivered, int) and 0 < delivered <= most):
        return None
    ages = [float(a) for a in (credited, active, traded) if isinstance(a, float | int)]
    if len(ages) != 3 or not all(math.isfinite(a) and a >= 0 for a in ages):
        return None
    return key.lower(), delivered, ages[0], ages[1], ages[2]


class StandingStore:
    """The ``peer_standings`` writes and read of ``sdex.store.Store`` (its single writer)."""

    _writer: Writer

    def keep_standings(self, rows: Sequence[StandingRow]) -> asyncio.Future[None]:
        """Replace the kept standings with ``rows`` (the first ``MAX_KEPT``), in one
        transaction; queued on the event loop, resolves at the commit."""
        kept = list(rows[:MAX_KEPT])

        def write(db: sqlite3.Connection) -> None:
            db.execute("DROP TABLE IF EXISTS peer_standings")  # (another shape: made again)
            db.execute(TABLE)
            db.executemany("INSERT OR REPLACE INTO peer_standings VALUES (?,?,?,?,?)", kept)

        return self._writer.submit_async(write)

    async def standing_rows(self, most: int) -> list[StandingRow]:
        """The kept standings (``MAX_KEPT`` at most, points at most ``most``); rows that are
        not one skipped, logged."""

        def read(db: sqlite3.Connection) -> list[tuple[object, ...]]:
            db.execute(TABLE)
            sql = "SELECT * FROM peer_standings LIMIT ?"
            return db.execute(sql, (MAX_KEPT,)).fetchall()

        raw = await asyncio.wrap_future(self._writer.submit(read))
        rows = [r for r in (parse_row(x, most) for x in raw) if r is not None]
        if len(rows) < len(raw):
            log.warning("peer_standings: %d rows skipped (not a standing)", len(raw) - len(rows))
        return rows
