"""SQLite persistence for a node: orders, fills, settlements and the chain mirror (filled
amounts, cancel flags, ``minValidSalt``, funds) with its head, saved in one transaction.

WAL mode with ``synchronous=NORMAL``: a committed transaction survives a killed process
(``kill -9``), which is the promise the API makes when it answers 2xx. Amounts are stored as
decimal text because they exceed SQLite's 64-bit integers.

Off the event loop, with group commit: one thread (``sdex.sqlwriter.Writer``) owns the
connection and runs every statement, reads included (a read sees every write queued before
it), many jobs a transaction (``group_window``), each in its own savepoint. The ``*_async``
writes answer futures resolved after the commit; a few are queued for nobody (a failure is
logged); the other methods block until the commit.

The database is bound to one chain: the chain id, the Exchange address and the hash of the
Exchange's deployment block. A database from another chain (say, a restarted devnet, where
the same address holds a new contract) is detected at open and rebuilt, never served.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

from sdex.model import FillEvent, fill_json
from sdex.order import Domain, SignedOrder
from sdex.sqlwriter import StoreError as StoreError
from sdex.sqlwriter import Writer, log_failure, serialised
from sdex.storeschema import (
    ADDED_ORDER_COLUMNS,
    INSERT_ORDER,
    MIRROR_TABLES,
    ORDER_SELECT,
    SCHEMA,
)

log = logging.getLogger("sdex.store")

T = TypeVar("T")
OrderRow = tuple[str, str, int, str]
"""An order's (hash hex, status, filled, reason)."""


@dataclass(frozen=True, slots=True)
class ChainIdentity:
    """What makes a database belong to one chain and one Exchange deployment."""

    chain_id: int
    exchange: str
    deploy_block_hash: str

    def as_dict(self) -> dict[str, str]:
        return {
            "chain_id": str(self.chain_id),
            "exchange": self.exchange.lower(),
            "deploy_block_hash": self.deploy_block_hash.lower(),
        }


@dataclass(frozen=True, slots=True)
class StoredOrder:
    signed: SignedOrder
    seq: int
    status: str
    filled: int
    reason: str
    source: str
    created_at: float
    tif: str = "gtc"
    """Time in force: only ``gtc`` orders ever rest (and are gossiped)."""
    cancel_signature: bytes | None = None


@dataclass(frozen=True, slots=True)
class StoredFill(FillEvent):
    """A fill as the node keeps it: the one fill shape (``sdex.model.FillEvent``), and
    whether this node's own settlement made it."""

    ours: bool = False

    @classmethod
    def of(cls, fill: FillEvent, ours: bool) -> StoredFill:
        return cls(**{f.name: getattr(fill, f.name) for f in fields(FillEvent)}, ours=ours)

    def to_json(self) -> dict[str, object]:
        return fill_json(self, self.ours)


@dataclass(frozen=True, slots=True)
class StoredSettlement:
    tx_hash: str
    nonce: int
    raw_tx: str
    pairs: list[tuple[str, str]]
    status: str


class Store:
    """One node's SQLite database (when each kind of write commits: the module's text)."""

    def __init__(
        self,
        path: Path | str,
        identity: ChainIdentity,
        domain: Domain,
        group_window: float = 0.002,
        max_group: int = 1024,
    ) -> None:
        """``group_window``: seconds the writer waits for more jobs before a transaction,
        only while it is busy (the last transaction held more than one job); an idle node
        commits each write at once. ``max_group``: the most jobs in one transaction."""
        self.path = str(path)
        self.domain = domain
        self.rebuilt = False
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
        for name, ddl in ADDED_ORDER_COLUMNS.items():  # a database from an older version
            if name not in columns:
                db.execute(f"ALTER TABLE orders ADD COLUMN {name} {ddl}")
        self._writer = Writer(db, group_window, max_group)
        self._bind(identity)

    def _page(
        self,
        select: str,
        table: str,
        cond: str,
        order_by: str,
        args: Sequence[object],
        page: int,
        per_page: int,
    ) -> tuple[int, list[Any]]:
        """Rows ``page`` (1-indexed) of ``select`` + ``cond`` in ``order_by`` order, and how
        many rows of ``table`` match ``cond`` in all (one read, one snapshot)."""

        def query(db: sqlite3.Connection) -> tuple[int, list[Any]]:
            total = int(db.execute(f"SELECT COUNT(*) FROM {table}{cond}", args).fetchone()[0])
            rows = db.execute(
                f"{select}{cond} ORDER BY {order_by} LIMIT ? OFFSET ?",
                [*args, per_page, (page - 1) * per_page],
            ).fetchall()
            return total, rows

        return self._call(query)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the writer thread; block until its transaction committed."""
        return self._writer.submit(fn).result()

    async def _call_async(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``_call`` awaited: the event loop runs on while the writer commits."""
        return await asyncio.wrap_future(self._writer.submit(fn))

    def _bind(self, identity: ChainIdentity) -> None:
        want = identity.as_dict()

        def bind(db: sqlite3.Connection) -> bool:
            have = dict(
                db.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?)", list(want))
            )
            rebuilt = False
            if have and have != want:
                # another chain (or a fresh devnet at the same address): nothing here is valid
                for table in ("orders", "fills", "settlements", "meta", *MIRROR_TABLES):
                    db.execute(f"DELETE FROM {table}")
                rebuilt = True
                have = {}
            if not have:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(want.items()))
            return rebuilt

        self.rebuilt = self._call(bind)

    def close(self) -> None:
        """Commit what is queued, then stop the writer and close the database."""
        self._writer.close()

    def stats(self) -> dict[str, int]:
        """Jobs run and transactions committed so far (jobs per commit: the grouping)."""
        w = self._writer
        return {"jobs": w.jobs, "commits": w.commits, "largestGroup": w.largest}

    # -- orders --------------------------------------------------------------------------
    def next_seq(self) -> int:
        row = self._call(
            lambda db: db.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()
        )
        return int(row[0]) + 1

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

    def update_orders(self, updates: Sequence[OrderRow], wait: bool = True) -> None:
        """Set (status, filled, reason) of orders by hash hex, in one transaction; ``wait=False``:
        queued (reads and writes queued later see it), its failure logged."""
        now = time.time()
        rows = [(status, str(filled), reason, now, h) for h, status, filled, reason in updates]
        sql = "UPDATE orders SET status=?, filled=?, reason=?, updated_at=? WHERE hash=?"
        fut = self._writer.submit(lambda db: db.executemany(sql, rows))
        if wait:
            fut.result()
        else:
            fut.add_done_callback(log_failure)

    def set_cancel_signature(self, hash_hex: str, signature: bytes) -> None:
        """Keep the maker's soft-cancel signature: the proof shown to peers, also after a
        restart."""
        args = ("0x" + signature.hex(), time.time(), hash_hex.lower())
        self._call(
            lambda db: db.execute("UPDATE orders SET cancel_sig=?, updated_at=? WHERE hash=?", args)
        )

    def order(self, hash_hex: str) -> StoredOrder | None:
        key = (hash_hex.lower(),)
        row = self._call(lambda db: db.execute(ORDER_SELECT + " WHERE hash=?", key).fetchone())
        return self._order(row) if row else None

    async def holds_order(self, hash_hex: str) -> bool:
        """Whether the order's row is committed (every write queued before this is, first)."""
        sql, key = "SELECT 1 FROM orders WHERE hash=?", (hash_hex.lower(),)
        return await self._call_async(lambda db: db.execute(sql, key).fetchone() is not None)

    def orders(self, statuses: Sequence[str] | None = None) -> Iterator[StoredOrder]:
        """All orders in arrival order, optionally only those with the given statuses."""
        sql, args = ORDER_SELECT, []
        if statuses:
            sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
            args = list(statuses)
        rows = self._call(lambda db: db.execute(sql + " ORDER BY seq", args).fetchall())
        for row in rows:
            yield self._order(row)

    def query_orders(
        self, filters: dict[str, str], page: int, per_page: int
    ) -> tuple[int, list[StoredOrder]]:
        """A page of orders matching exact-value ``filters``.

        Filter keys: maker, maker_token, taker_token, status."""
        allowed = {"maker", "maker_token", "taker_token", "status"}
        where = " AND ".join(f"{k}=?" for k in filters if k in allowed)
        args = [v.lower() if k != "status" else v for k, v in filters.items() if k in allowed]
        cond = f" WHERE {where}" if where else ""

        total, rows = self._page(ORDER_SELECT, "orders", cond, "seq", args, page, per_page)
        return total, [self._order(r) for r in rows]

    def _order(self, row: tuple[Any, ...]) -> StoredOrder:
        _, seq, order_json, status, filled, reason, source, created, tif, cancel_sig = row
        return StoredOrder(
            signed=SignedOrder.from_json(json.loads(order_json), self.domain),
            seq=int(seq),
            status=str(status),
            filled=int(filled),
            reason=str(reason),
            source=str(source),
            created_at=float(created),
            tif=str(tif),
            cancel_signature=bytes.fromhex(str(cancel_sig)[2:]) if cancel_sig else None,
        )

    # -- fills ---------------------------------------------------------------------------
    def add_fills(self, fills: Sequence[StoredFill]) -> list[StoredFill]:
        """Insert fills; returns those that were new (a log seen twice is stored once)."""
        return self._call(_fills_job(fills)) if fills else []

    def add_fills_async(self, fills: Sequence[StoredFill]) -> asyncio.Future[list[StoredFill]]:
        """``add_fills`` queued at once (later reads see them); resolves once they are durable."""
        return asyncio.wrap_future(self.add_fills_soon(fills))

    def add_fills_soon(self, fills: Sequence[StoredFill]) -> Future[list[StoredFill]]:
        """``add_fills_async`` from any thread (urgent: no group window), not on a loop."""
        return self._writer.submit(_fills_job(fills), urgent=True)

    def fills(
        self,
        page: int = 1,
        per_page: int = 100,
        order_hash: str | None = None,
        above_block: int | None = None,
    ) -> tuple[int, list[StoredFill]]:
        conds: list[str] = []
        args: list[object] = []
        if order_hash:
            conds.append("order_hash=?")
            args.append(order_hash.lower())
        if above_block is not None:
            conds.append("block_number > ?")
            args.append(above_block)
        cond = (" WHERE " + " AND ".join(conds)) if conds else ""
        order_by = "block_number, log_index"
        total, rows = self._page(
            "SELECT * FROM fills", "fills", cond, order_by, args, page, per_page
        )
        return total, [
            StoredFill(
                tx_hash=r[0],
                log_index=r[1],
                block_number=r[2],
                order_hash=bytes.fromhex(r[3][2:]),
                maker=r[4],
                taker=r[5],
                maker_filled=int(r[6]),
                taker_filled=int(r[7]),
                fee_recipient=r[8],
                fee=int(r[9]),
                ours=bool(r[10]),
            )
            for r in rows
        ]

    # -- settlements ---------------------------------------------------------------------
    def add_settlement(
        self, tx_hash: str, nonce: int, raw_tx: str, pairs: list[tuple[str, str]]
    ) -> Future[Any]:
        """Record a signed settlement *before* it is broadcast, so a restart can reconcile it:
        urgent, resolved on the writer thread once durable (a callback there may send it)."""
        now = time.time()
        row = (tx_hash, nonce, raw_tx, json.dumps(pairs), "pending", now, now)
        sql = "INSERT OR REPLACE INTO settlements VALUES (?,?,?,?,?,?,?)"
        return self._writer.submit(lambda db: db.execute(sql, row), urgent=True)

    def set_settlement_status(self, tx_hash: str, status: str) -> asyncio.Future[Any]:
        """Queued at once, without waiting: resolves at its commit (writes queued after it
        commit no earlier); a failure is logged if nobody awaits it. Call on the loop."""
        args = (status, time.time(), tx_hash)
        sql = "UPDATE settlements SET status=?, updated_at=? WHERE tx_hash=?"
        fut = asyncio.wrap_future(self._writer.submit(lambda db: db.execute(sql, args)))
        fut.add_done_callback(log_failure)
        return fut

    def pending_settlements(self) -> list[StoredSettlement]:
        rows = self._call(
            lambda db: db.execute(
                "SELECT tx_hash, nonce, raw_tx, pairs, status FROM settlements"
                " WHERE status='pending' ORDER BY nonce"
            ).fetchall()
        )
        return [
            StoredSettlement(r[0], int(r[1]), r[2], [(a, b) for a, b in json.loads(r[3])], r[4])
            for r in rows
        ]

    def remove_fills_above(self, block_number: int) -> list[StoredFill]:
        """Delete the fills of blocks above ``block_number`` (a reorg undid them); returns them."""
        _, removed = self.fills(1, 1_000_000, above_block=block_number)
        self._call(
            lambda db: db.execute("DELETE FROM fills WHERE block_number > ?", (block_number,))
        )
        return removed

    # -- watcher checkpoint and the chain mirror --------------------------------------------
    def checkpoint(self) -> tuple[int, str, int] | None:
        """(number, hash, timestamp) of the last block the mirror applied; None if the mirror
        was never saved (a database from before the mirror is replayed from the start)."""
        row = self._call(
            lambda db: db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
        )
        if row is None:
            return None
        number, block_hash, timestamp = json.loads(row[0])
        return int(number), str(block_hash), int(timestamp)

    async def save_mirror(
        self,
        head: tuple[int, str, int],
        orders: dict[bytes, tuple[int, bool]],
        makers: dict[str, int],
        funds: dict[tuple[str, str], tuple[int, int]],
    ) -> None:
        """The mirror's changes and its head, in one transaction (awaited: durable when it
        returns; the event loop runs on meanwhile)."""
        order_rows = [("0x" + h.hex(), str(f), int(c)) for h, (f, c) in orders.items()]
        maker_rows = [(m, str(s)) for m, s in makers.items()]
        fund_rows = [(m, t, str(b), str(a)) for (m, t), (b, a) in funds.items()]
        head_json = json.dumps(list(head))

        def save(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO mirror_orders VALUES (?,?,?)", order_rows)
            db.executemany("INSERT OR REPLACE INTO mirror_makers VALUES (?,?)", maker_rows)
            db.executemany("INSERT OR REPLACE INTO mirror_funds VALUES (?,?,?,?)", fund_rows)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('mirror_head', ?)", (head_json,))

        await self._call_async(save)

    def load_mirror(
        self,
    ) -> tuple[
        dict[bytes, tuple[int, bool]], dict[str, int], dict[tuple[str, str], tuple[int, int]]
    ]:
        def load(db: sqlite3.Connection) -> tuple[list[Any], list[Any], list[Any]]:
            return (
                db.execute("SELECT hash, filled, cancelled FROM mirror_orders").fetchall(),
                db.execute("SELECT * FROM mirror_makers").fetchall(),
                db.execute("SELECT * FROM mirror_funds").fetchall(),
            )

        order_rows, maker_rows, fund_rows = self._call(load)
        orders = {bytes.fromhex(h[2:]): (int(f), bool(c)) for h, f, c in order_rows}
        makers = {m: int(s) for m, s in maker_rows}
        funds = {(m, t): (int(b), int(a)) for m, t, b, a in fund_rows}
        return orders, makers, funds

    def reset_chain(self, identity: ChainIdentity) -> None:
        """The chain was reset (a new genesis or deployment block): drop everything read from
        the old chain (fills, the mirror, its head; unsent settlements are dropped) and bind
        the database to the new chain. Signed orders stay: the node re-judges them."""
        now = time.time()
        meta = list(identity.as_dict().items())

        def reset(db: sqlite3.Connection) -> None:
            for table in ("fills", *MIRROR_TABLES):
                db.execute(f"DELETE FROM {table}")
            db.execute("DELETE FROM meta WHERE key IN ('mirror_head', 'checkpoint')")
            db.execute(
                "UPDATE settlements SET status='dropped', updated_at=? WHERE status='pending'",
                (now,),
            )
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta)

        self._call(reset)


def _order_row(
    signed: SignedOrder,
    seq: int,
    status: str,
    source: str,
    tif: str,
    order_json: dict[str, str] | str | None = None,
) -> tuple[object, ...]:
    """The orders table's row; its ``order_json`` column may still be a dict here (the
    writer serialises it: ``_serialised``)."""
    now = time.time()
    o = signed.order
    return (
        signed.hash_hex, seq, o.maker, o.maker_token, o.taker_token,
        order_json if order_json is not None else signed.to_json(),
        status, source, tif, now, now,
    )  # fmt: skip


def _fills_job(fills: Sequence[StoredFill]) -> Callable[[sqlite3.Connection], list[StoredFill]]:
    def insert(db: sqlite3.Connection) -> list[StoredFill]:
        new: list[StoredFill] = []
        for f in fills:
            cur = db.execute(
                "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    f.tx_hash, f.log_index, f.block_number, "0x" + f.order_hash.hex(),
                    f.maker, f.taker,
                    str(f.maker_filled), str(f.taker_filled), f.fee_recipient, str(f.fee),
                    int(f.ours),
                ),
            )  # fmt: skip
            if cur.rowcount:
                new.append(f)
        return new

    return insert
