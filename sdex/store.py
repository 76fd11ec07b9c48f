"""SQLite persistence for a node: orders, fills, settlements and the chain mirror (filled
amounts, cancel flags, ``minValidSalt``, funds) with its head, saved in one transaction.

WAL mode with ``synchronous=NORMAL``: a committed transaction survives a killed process
(``kill -9``), which is the promise the API makes when it answers 2xx. Amounts are stored as
decimal text because they exceed SQLite's 64-bit integers.

The database is bound to one chain: the chain id, the Exchange address and the hash of the
Exchange's deployment block. A database from another chain (say, a restarted devnet, where
the same address holds a new contract) is detected at open and rebuilt, never served.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from sdex.model import FillEvent, fill_json
from sdex.order import Domain, SignedOrder

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    hash        TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL UNIQUE,
    maker       TEXT NOT NULL,
    maker_token TEXT NOT NULL,
    taker_token TEXT NOT NULL,
    order_json  TEXT NOT NULL,
    status      TEXT NOT NULL,
    filled      TEXT NOT NULL DEFAULT '0',
    reason      TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL,
    tif         TEXT NOT NULL DEFAULT 'gtc',
    cancel_sig  TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_maker ON orders (maker);
CREATE INDEX IF NOT EXISTS orders_pair ON orders (maker_token, taker_token);
CREATE TABLE IF NOT EXISTS fills (
    tx_hash       TEXT NOT NULL,
    log_index     INTEGER NOT NULL,
    block_number  INTEGER NOT NULL,
    order_hash    TEXT NOT NULL,
    maker         TEXT NOT NULL,
    taker         TEXT NOT NULL,
    maker_filled  TEXT NOT NULL,
    taker_filled  TEXT NOT NULL,
    fee_recipient TEXT NOT NULL,
    fee           TEXT NOT NULL,
    ours          INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS fills_order ON fills (order_hash);
CREATE TABLE IF NOT EXISTS mirror_orders (
    hash      TEXT PRIMARY KEY,
    filled    TEXT NOT NULL,
    cancelled INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mirror_makers (maker TEXT PRIMARY KEY, min_salt TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mirror_funds (
    maker     TEXT NOT NULL,
    token     TEXT NOT NULL,
    balance   TEXT NOT NULL,
    allowance TEXT NOT NULL,
    PRIMARY KEY (maker, token)
);
CREATE TABLE IF NOT EXISTS settlements (
    tx_hash    TEXT PRIMARY KEY,
    nonce      INTEGER NOT NULL,
    raw_tx     TEXT NOT NULL,
    pairs      TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
"""


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
    """One node's SQLite database. Every write commits before it returns."""

    def __init__(self, path: Path | str, identity: ChainIdentity, domain: Domain) -> None:
        self.path = str(path)
        self.domain = domain
        self.rebuilt = False
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(orders)")}
        for name, ddl in _ADDED_ORDER_COLUMNS.items():  # a database from an older version
            if name not in columns:
                self.db.execute(f"ALTER TABLE orders ADD COLUMN {name} {ddl}")
        self._bind(identity)

    def _bind(self, identity: ChainIdentity) -> None:
        want = identity.as_dict()
        have = dict(
            self.db.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?)", list(want))
        )
        if have and have != want:
            # another chain (or a fresh devnet at the same address): nothing here is valid
            with self.tx():
                for table in ("orders", "fills", "settlements", "meta", *MIRROR_TABLES):
                    self.db.execute(f"DELETE FROM {table}")
            self.rebuilt = True
            have = {}
        if not have:
            with self.tx():
                self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(want.items()))

    def tx(self) -> _Transaction:
        return _Transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # -- orders --------------------------------------------------------------------------
    def next_seq(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()
        return int(row[0]) + 1

    def add_order(
        self, signed: SignedOrder, seq: int, status: str, source: str, tif: str = "gtc"
    ) -> None:
        now = time.time()
        o = signed.order
        self.db.execute(
            "INSERT OR IGNORE INTO orders (hash, seq, maker, maker_token, taker_token, order_json,"
            " status, source, tif, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                signed.hash_hex, seq, o.maker, o.maker_token, o.taker_token,
                json.dumps(signed.to_json()), status, source, tif, now, now,
            ),
        )  # fmt: skip

    def update_orders(self, updates: Sequence[tuple[str, str, int, str]]) -> None:
        """Set (status, filled, reason) of orders by hash hex, in one transaction."""
        now = time.time()
        with self.tx():
            self.db.executemany(
                "UPDATE orders SET status=?, filled=?, reason=?, updated_at=? WHERE hash=?",
                [(status, str(filled), reason, now, h) for h, status, filled, reason in updates],
            )

    def set_cancel_signature(self, hash_hex: str, signature: bytes) -> None:
        """Keep the maker's soft-cancel signature: the proof shown to peers, also after a
        restart."""
        self.db.execute(
            "UPDATE orders SET cancel_sig=?, updated_at=? WHERE hash=?",
            ("0x" + signature.hex(), time.time(), hash_hex.lower()),
        )

    def order(self, hash_hex: str) -> StoredOrder | None:
        row = self.db.execute(_ORDER_SELECT + " WHERE hash=?", (hash_hex.lower(),)).fetchone()
        return self._order(row) if row else None

    def orders(self, statuses: Sequence[str] | None = None) -> Iterator[StoredOrder]:
        """All orders in arrival order, optionally only those with the given statuses."""
        sql, args = _ORDER_SELECT, []
        if statuses:
            sql += f" WHERE status IN ({','.join('?' * len(statuses))})"
            args = list(statuses)
        for row in self.db.execute(sql + " ORDER BY seq", args):
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
        total = int(self.db.execute(f"SELECT COUNT(*) FROM orders{cond}", args).fetchone()[0])
        rows = self.db.execute(
            f"{_ORDER_SELECT}{cond} ORDER BY seq LIMIT ? OFFSET ?",
            [*args, per_page, (page - 1) * per_page],
        ).fetchall()
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
        new: list[StoredFill] = []
        with self.tx():
            for f in fills:
                cur = self.db.execute(
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
        cond = ("WHERE " + " AND ".join(conds)) if conds else ""
        total = int(self.db.execute(f"SELECT COUNT(*) FROM fills {cond}", args).fetchone()[0])
        rows = self.db.execute(
            f"SELECT * FROM fills {cond} ORDER BY block_number, log_index LIMIT ? OFFSET ?",
            [*args, per_page, (page - 1) * per_page],
        ).fetchall()
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
    ) -> None:
        """Record a signed settlement *before* it is broadcast, so a restart can reconcile it."""
        now = time.time()
        self.db.execute(
            "INSERT OR REPLACE INTO settlements VALUES (?,?,?,?,?,?,?)",
            (tx_hash, nonce, raw_tx, json.dumps(pairs), "pending", now, now),
        )

    def set_settlement_status(self, tx_hash: str, status: str) -> None:
        self.db.execute(
            "UPDATE settlements SET status=?, updated_at=? WHERE tx_hash=?",
            (status, time.time(), tx_hash),
        )

    def pending_settlements(self) -> list[StoredSettlement]:
        rows = self.db.execute(
            "SELECT tx_hash, nonce, raw_tx, pairs, status FROM settlements"
            " WHERE status='pending' ORDER BY nonce"
        ).fetchall()
        return [
            StoredSettlement(r[0], int(r[1]), r[2], [(a, b) for a, b in json.loads(r[3])], r[4])
            for r in rows
        ]

    def remove_fills_above(self, block_number: int) -> list[StoredFill]:
        """Delete the fills of blocks above ``block_number`` (a reorg undid them); returns them."""
        _, removed = self.fills(1, 1_000_000, above_block=block_number)
        with self.tx():
            self.db.execute("DELETE FROM fills WHERE block_number > ?", (block_number,))
        return removed

    # -- watcher checkpoint and the chain mirror --------------------------------------------
    def checkpoint(self) -> tuple[int, str, int] | None:
        """(number, hash, timestamp) of the last block the mirror applied; None if the mirror
        was never saved (a database from before the mirror is replayed from the start)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
        if row is None:
            return None
        number, block_hash, timestamp = json.loads(row[0])
        return int(number), str(block_hash), int(timestamp)

    def save_mirror(
        self,
        head: tuple[int, str, int],
        orders: dict[bytes, tuple[int, bool]],
        makers: dict[str, int],
        funds: dict[tuple[str, str], tuple[int, int]],
    ) -> None:
        """The mirror's changes and its head, in one transaction."""
        with self.tx():
            self.db.executemany(
                "INSERT OR REPLACE INTO mirror_orders VALUES (?,?,?)",
                [("0x" + h.hex(), str(f), int(c)) for h, (f, c) in orders.items()],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO mirror_makers VALUES (?,?)",
                [(m, str(s)) for m, s in makers.items()],
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO mirror_funds VALUES (?,?,?,?)",
                [(m, t, str(b), str(a)) for (m, t), (b, a) in funds.items()],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('mirror_head', ?)", (json.dumps(list(head)),)
            )

    def load_mirror(
        self,
    ) -> tuple[
        dict[bytes, tuple[int, bool]], dict[str, int], dict[tuple[str, str], tuple[int, int]]
    ]:
        orders = {
            bytes.fromhex(h[2:]): (int(f), bool(c))
            for h, f, c in self.db.execute("SELECT hash, filled, cancelled FROM mirror_orders")
        }
        makers = {m: int(s) for m, s in self.db.execute("SELECT * FROM mirror_makers")}
        funds = {
            (m, t): (int(b), int(a)) for m, t, b, a in self.db.execute("SELECT * FROM mirror_funds")
        }
        return orders, makers, funds

    def reset_chain(self, identity: ChainIdentity) -> None:
        """The chain was reset (a new genesis or deployment block): drop everything read from
        the old chain (fills, the mirror, its head; unsent settlements are dropped) and bind
        the database to the new chain. Signed orders stay: the node re-judges them."""
        with self.tx():
            for table in ("fills", *MIRROR_TABLES):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("DELETE FROM meta WHERE key IN ('mirror_head', 'checkpoint')")
            self.db.execute(
                "UPDATE settlements SET status='dropped', updated_at=? WHERE status='pending'",
                (time.time(),),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", list(identity.as_dict().items())
            )


MIRROR_TABLES = ("mirror_orders", "mirror_makers", "mirror_funds")

_ADDED_ORDER_COLUMNS = {
    "tif": "TEXT NOT NULL DEFAULT 'gtc'",
    "cancel_sig": "TEXT NOT NULL DEFAULT ''",
}
"""Columns added since the first schema, with their DDL (added to an older database)."""

_ORDER_SELECT = (
    "SELECT hash, seq, order_json, status, filled, reason, source, created_at, tif, cancel_sig"
    " FROM orders"
)


class _Transaction:
    """``with store.tx():`` groups writes into one commit (autocommit otherwise)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, et: object, ev: object, tb: object) -> None:
        self.db.execute("ROLLBACK" if et is not None else "COMMIT")
