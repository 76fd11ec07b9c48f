"""The orders' rows of a node's store (``sdex.store``): an order's insert (one row a hash:
its order's text, status and source), its status, filled amount and reason set, a soft
cancel's signature kept, rows that cannot be parsed closed, dead rows deleted
(``sdex.storeprune``). Every write runs on the store's writer thread (``sdex.sqlwriter``);
when each commits: ``sdex.store``'s text. Their reads: ``sdex.storeread``."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Sequence

from sdex.model import OPEN_STATUSES, OrderStatus
from sdex.order import Domain, SignedOrder
from sdex.sqlwriter import serialised
from sdex.storeprune import prune_step
from sdex.storeread import DAMAGED_NAMED, MAX_UNPARSEABLE_NAMED, OrderRow, StoreReads
from sdex.storerows import order_of_row
from sdex.storeschema import INSERT_ORDER, ORDER_SELECT, UNUSABLE

log = logging.getLogger("sdex.store")


class OrderWrites(StoreReads):
    """The orders' writes of ``sdex.store.Store`` (its single writer)."""

    unparseable_closed: int
    """Open rows that could not be parsed, closed at a start (``close_unparseable``)."""

    def next_seq(self) -> int:
        return self.last_seq() + 1

    def add_order(
        self, signed: SignedOrder, seq: int, status: str, source: str, tif: str = "gtc"
    ) -> None:
        row = serialised(_order_row(signed, seq, status, source, tif))
        self._call(lambda db: db.execute(INSERT_ORDER, row))

    def add_order_async(
        self,
        signed: SignedOrder,
        seq: int,
        status: str,
        source: str,
        tif: str = "gtc",
        order_json: dict[str, str] | str | None = None,
        waited: bool = True,
    ) -> asyncio.Future[None] | None:
        """Queue the order's insert (call on the event loop); the future resolves once its
        transaction committed, or fails with ``StoreError``. Writes are applied in the order
        they were queued. A failure is logged (awaited or not). ``order_json``: the order's
        ``to_json()`` (never changed afterwards; serialised on the writer thread) or its
        JSON text, if the caller has it. ``waited=False`` (a peer's order: nobody waits):
        no future; the row joins a group within ``sdex.sqlwriter.LAZY_HANDOVER`` and its
        commit wakes no one (a failure is logged); reads and later writes still see it."""
        row = _order_row(signed, seq, status, source, tif, order_json)
        if not waited:
            self._writer.insert_async(row, None)
            return None
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writer.insert_async(row, fut)  # (a failure is logged where it is set)
        return fut

    def refused_orders(self) -> list[str]:
        """The hashes of the order rows the store refused since the last call (their
        inserts failed: ``Writer.refused``), taken."""
        refused = self._writer.refused
        return [refused.popleft() for _ in range(len(refused))]

    def update_orders(self, updates: Sequence[OrderRow]) -> asyncio.Future[None]:
        """Set (status, filled, reason) of orders by hash hex, in one transaction, queued
        (call on the event loop; reads and writes queued later see it); resolves at its
        commit (``StoreError`` if refused), its failure logged awaited or not."""
        now = time.time()
        # One row a hash, the last given: what row-by-row updates in order would leave.
        last = {h: (status, str(filled), reason, now, h) for h, status, filled, reason in updates}
        rows = list(last.values())

        def update(db: sqlite3.Connection) -> None:
            if not UPDATE_FROM or len(rows) == 1:  # (one row: the plain UPDATE, ~3 us less)
                db.executemany(UPDATE_ORDER, rows)
                return
            for k in range(0, len(rows), UPDATES_A_STATEMENT):
                chunk = rows[k : k + UPDATES_A_STATEMENT]
                n = 1 << (len(chunk) - 1).bit_length()  # (a few statements: cached)
                args: list[object] = [v for r in chunk for v in r]
                args += [None] * (5 * (n - len(chunk)))  # (a NULL hash matches no row)
                db.execute(_update_many(n), args)

        return self._writer.submit_async(update)

    def reopen_repaired(self) -> int:
        """Reopen the rows a start closed unparseable (``UNUSABLE``) that parse again (the
        operator put them right), status ``open``, reason cleared: the start then reads them
        with the open rows and judges each by the chain as any stored open order (filled,
        cancelled, its maker's funds), never by a stored status. How many; those still
        damaged stay closed, named (``close_unparseable``). review88: they were named damaged
        by their status alone, never parsed again: a repaired row answered 503 "damaged" for
        good and ``--refuse-damaged-rows`` refused every start. Parsed on the writer thread,
        a row at a time (the file's rows are not bounded: only the hashes that parse kept);
        the first ``DAMAGED_NAMED`` still damaged logged with what is wrong in each."""

        def reopen(db: sqlite3.Connection) -> int:
            again, faults = [], 0
            for row in db.execute(f"{ORDER_SELECT} WHERE {UNUSABLE}"):
                if (fault := _fault(row, self.domain)) is None:
                    again.append(str(row[0]))
                elif (faults := faults + 1) <= DAMAGED_NAMED:
                    log.warning("stored order %.80s still cannot be parsed: %.200s", row[0], fault)
            sql = f"UPDATE orders SET status=?, reason='', updated_at=? WHERE hash=? AND {UNUSABLE}"
            now, status = time.time(), OrderStatus.OPEN.value
            return sum(db.execute(sql, (status, now, h)).rowcount for h in again)

        reopened = int(self._call(reopen))
        if reopened:
            log.warning("%d order rows closed 'unparseable' parse again: reopened, judged by "
                        "the chain", reopened)  # fmt: skip
        return reopened

    def close_unparseable(self, hashes: Sequence[str]) -> None:
        """Close open rows that cannot be parsed (status removed, reason "unparseable"): no
        longer open, they are known as stored closed orders (not accepted again). Then every
        such row (this start's and earlier starts') is read and named (``damaged_stored``:
        /health's ``store.damagedRows``, a warning in the log; bounds84: they were counted
        by this start only, and the next start named none: acknowledged orders gone quietly)."""
        if hashes:
            now, marks = time.time(), ",".join("?" * len(OPEN_STATUSES))
            sql = (
                "UPDATE orders SET status=?, reason='unparseable', updated_at=?"
                f" WHERE hash=? AND status IN ({marks})"
            )
            rows = [(OrderStatus.REMOVED.value, now, h, *OPEN_STATUSES) for h in hashes]
            closed = self._call(lambda db: db.executemany(sql, rows).rowcount)
            self.unparseable_closed += int(closed)
        sql = f"SELECT hash FROM orders WHERE {UNUSABLE} LIMIT {MAX_UNPARSEABLE_NAMED}"
        found = self._call(lambda db: db.execute(sql).fetchall())
        self.damaged_stored = {str(h) for (h,) in found} | self._marked_damaged()
        if self.damaged_stored:
            log.warning(
                "%d acknowledged orders' stored rows are damaged (closed 'unparseable', out of "
                "the book; /health store.damagedRows names them): %s",
                len(self.damaged_stored), ", ".join(sorted(self.damaged_stored)[:DAMAGED_NAMED]),
            )  # fmt: skip

    def _marked_damaged(self) -> set[str]:
        """The rows marked damaged while a node ran (``_mark_damaged``) that are still so;
        the marks of rows that parse again (the operator put them right) or are gone
        dropped."""
        sql = f"{ORDER_SELECT} WHERE hash IN (SELECT hash FROM damaged_orders LIMIT ?)"
        marks = self._call(
            lambda db: (
                [str(h) for (h,) in db.execute("SELECT hash FROM damaged_orders LIMIT ?", (L,))],
                db.execute(sql, (L,)).fetchall(),
            )
        )
        still = {str(row[0]) for row in marks[1] if not _parses(row, self.domain)}
        if gone := [(h,) for h in marks[0] if h not in still]:
            self._call(lambda db: db.executemany("DELETE FROM damaged_orders WHERE hash=?", gone))
        return still

    def set_cancel_signature(
        self, hash_hex: str, signature: bytes, at: tuple[int, int | None] | None = None
    ) -> asyncio.Future[None]:
        """Keep the maker's soft-cancel signature: the proof shown to peers, also after a
        restart; and ``at``, where the chain and the operator's nonce stood when this node
        took it (the first one kept). Queued as ``update_orders`` is (call on the loop;
        resolves at its commit)."""
        block, nonce = at if at is not None else (None, None)
        args = ("0x" + signature.hex(), time.time(), block, nonce, hash_hex.lower())

        def update(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE orders SET cancel_sig=?, updated_at=?,"
                " cancel_block=COALESCE(cancel_block, ?),"
                " cancel_nonce=CASE WHEN cancel_block IS NULL THEN ? ELSE cancel_nonce END"
                " WHERE hash=?",  # (the SET's right sides read the row as it was)
                args,
            )

        return self._writer.submit_async(update)

    def prune_step(self, after: int, expired_before: int) -> asyncio.Future[tuple[list[str], int]]:
        """One step of the sweep that deletes dead order rows (``sdex.storeprune``), queued
        (call on the event loop): the hashes deleted and the ``seq`` to start after next."""
        return self._writer.submit_async(lambda db: prune_step(db, after, expired_before))


def _order_row(
    signed: SignedOrder,
    seq: int,
    status: str,
    source: str,
    tif: str,
    order_json: dict[str, str] | str | None = None,
) -> tuple[object, ...]:
    """The orders table's row (``INSERT_ORDER``'s parameters; ``taker``: the order's own,
    lower case, as ``orders_taker_seq`` and the read side's check want it); its
    ``order_json`` column may still be a dict here (the writer serialises it:
    ``sdex.sqlwriter.serialised``)."""
    now = time.time()
    o = signed.order
    return (
        signed.hash_hex, seq, o.maker, o.maker_token, o.taker_token,
        order_json if order_json is not None else signed.to_json(),
        status, source, tif, now, now, o.taker.lower(),
    )  # fmt: skip


UPDATE_ORDER = "UPDATE orders SET status=?, filled=?, reason=?, updated_at=? WHERE hash=?"
UPDATE_FROM = sqlite3.sqlite_version_info >= (3, 33, 0)
"""``UPDATE ... FROM`` is there (SQLite 3.33): ``update_orders`` is one statement a chunk."""
UPDATES_A_STATEMENT = 64
"""Order rows one ``UPDATE`` sets (5 parameters a row). One statement for many rows, not
one a row (settle29): each statement that may write several rows (the ``order_counts``
trigger's) opens a statement journal inside the writer's job savepoint, and its end
truncates that in-memory journal by walking its chunk list from the start, so row-by-row
updates cost O(rows²) (17% of a node's CPU while it settled 2,048 matches on anvil)."""


@functools.cache
def _update_many(n: int) -> str:
    """``UPDATE_ORDER`` for ``n`` rows (``n`` a power of two) in one statement."""
    values = ",".join(["(?,?,?,?,?)"] * n)
    return (
        "UPDATE orders SET status=v.column1, filled=v.column2, reason=v.column3,"
        f" updated_at=v.column4 FROM (VALUES {values}) AS v WHERE orders.hash=v.column5"
    )


L = MAX_UNPARSEABLE_NAMED


def _parses(row: tuple[object, ...], domain: Domain) -> bool:
    """Whether an order's row (``ORDER_SELECT``'s columns) parses, as the reads parse it."""
    return _fault(row, domain) is None


def _fault(row: tuple[object, ...], domain: Domain) -> str | None:
    """What stops an order's row from parsing (``_parses``), or None."""
    try:
        OrderStatus(order_of_row(row, domain).status)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        return f"{type(e).__name__}: {e}"
    return None
