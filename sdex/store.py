"""SQLite persistence for a node: orders, fills, settlements and the chain mirror (filled
amounts, cancel flags, ``minValidSalt``, funds) with its head, saved in one transaction.

WAL mode with ``synchronous=NORMAL``: a committed transaction survives a killed process
(``kill -9``), which is the promise the API makes when it answers 2xx. Amounts are stored as
decimal text because they exceed SQLite's 64-bit integers.

Off the event loop, with group commit: one thread (``sdex.sqlwriter.Writer``) owns the
connection and runs every statement, reads included (a read sees every write queued before
it), many jobs a transaction (``group_window``), each in its own savepoint. The ``*_async``
writes, ``update_orders`` and ``set_cancel_signature`` answer futures resolved after the
commit (the event loop awaits them, never blocks); a few are queued for nobody (a failure
is logged); the other methods block until the commit (start-up, tools, tests).

The database is bound to one chain: the chain id, the Exchange address and the hash of the
Exchange's deployment block. A replaced chain (say, a restarted devnet, where the same address
holds a new contract) found at open is a reset, as one found while the node runs: what was read
from the old chain is dropped, the orders kept and judged again. A database of another chain
id or Exchange (another EIP-712 domain: none of its orders can be filled here) is rebuilt.

Here: the open and the binding to a chain (a reset to a new one too), the orders' and the
settlements' writes. The reads: ``sdex.storeread``; the fills and the mirror:
``sdex.storechain``; the schema: ``sdex.storeschema``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdex.errors import SdexError
from sdex.model import OPEN_STATUSES, OrderStatus
from sdex.order import Domain, SignedOrder
from sdex.sqlwriter import StoreError as StoreError
from sdex.sqlwriter import Writer, log_failure, serialised
from sdex.storechain import ChainStore
from sdex.storechain import FillKey as FillKey
from sdex.storechain import fill_key as fill_key
from sdex.storefills import fills_of
from sdex.storefills import own_fill as own_fill
from sdex.storeorphans import OrphanStore
from sdex.storeprune import prune_step
from sdex.storeread import OrderRow as OrderRow
from sdex.storeread import StoredFill as StoredFill
from sdex.storerows import StoredOrder as StoredOrder
from sdex.storeschema import (
    FILL_SEQ_KEY,
    INSERT_ORDER,
    MIRROR_TABLES,
    open_order_counts,
    open_orders_table,
    open_schema,
)
from sdex.storesettle import StoredSettlement as StoredSettlement
from sdex.storesettle import (
    dropped_rows,
    own_fill_txs_above,
    pending_rows,
    refuse_settlements,
    settlements_of,
)
from sdex.storeundone import UNDONE_KEPT, UndoneStore, keep_undone, undone_of

log = logging.getLogger("sdex.store")


class StoreOpenError(StoreError, SdexError):
    """The database file cannot be opened as a node's store (``sdex node``: one line)."""


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


class Store(ChainStore, UndoneStore, OrphanStore):
    """One node's SQLite database (when each kind of write commits: the module's text); its
    reads: ``sdex.storeread``; the fills and the chain mirror: ``sdex.storechain``."""

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
        """The database was bound to another deployment (``_bind``): rebuilt empty."""
        self.rejudge_due = False
        """A reset (``reset_chain``, or one ``_bind`` found) whose re-judging of every stored
        order is not done (``rejudged``): a start does it (``Node.load``)."""
        self.unparseable_rows: set[str] = set()
        self.unparseable_count = 0
        self.unparseable_closed = 0
        """Open rows that could not be parsed, closed at a start (``close_unparseable``)."""
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            open_schema(db)
        except sqlite3.DatabaseError as e:  # not SQLite, damaged, read-only, locked...
            db.close()
            raise StoreOpenError(
                f"the database {self.path} cannot be used: {e} (not an SDEX node's SQLite "
                "file, or a damaged one: move it away or pass another --db)"
            ) from None
        started = time.monotonic()
        if open_orders_table(db):  # (a database from an older version)
            log.warning(
                "the orders table of %s was rebuilt in %.1f s (seq is its rowid); file: %d MB",
                self.path, time.monotonic() - started, os.path.getsize(self.path) // 2**20,
            )  # fmt: skip
        try:
            open_order_counts(db)
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreOpenError(f"the database {self.path} cannot be used: {e}") from None
        self._writer = Writer(db, group_window, max_group)
        self._reader = None
        try:
            self._bind(identity)
            self._open_reader()
        except BaseException:  # (leftovers17: the writer thread and its connection were left)
            self.close()
            raise

    def _bind(self, identity: ChainIdentity) -> None:
        """Bind the database to ``identity``'s chain. The same deployment on a replaced chain
        (another deployment block hash: a devnet restarted while the node was down) is a
        reset, as ``reset_chain`` makes one while the node runs: the wallets' orders are kept
        (signed for this domain, its chain id and Exchange), what was read from the old chain
        dropped, and the node judges every stored order again at its start
        (``rejudge_due``; reset70: every order was deleted). Another chain id or Exchange is
        another domain: no order of it can be filled here, so the database is rebuilt
        (``rebuilt``), the orders it drops counted in the log."""
        want = identity.as_dict()
        now = time.time()

        def bind(db: sqlite3.Connection) -> tuple[int | None, bool]:
            have = dict(
                db.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?)", list(want))
            )
            dropped = None
            if have and all(have.get(k) == want[k] for k in DOMAIN_KEYS):
                if have != want:  # a replaced chain: a reset
                    _reset_rows(db, list(want.items()), now)
            elif have:  # another domain: no order here can be filled by this Exchange
                dropped = int(db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
                for table in ("orders", "fills", "settlements", "undone_fills", *MIRROR_TABLES):
                    db.execute(f"DELETE FROM {table}")
                db.execute("DELETE FROM meta WHERE key != ?", (FILL_SEQ_KEY,))
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(want.items()))
            due = db.execute("SELECT 1 FROM meta WHERE key=?", (REJUDGE_KEY,)).fetchone()
            return dropped, due is not None

        dropped, self.rejudge_due = self._call(bind)
        if dropped is not None:
            self.rebuilt = True
            log.warning(
                "database %s was bound to another deployment than chain %d's Exchange %s: "
                "rebuilt, its %d orders (signed for that one: no order of it can be filled "
                "here) dropped", self.path, identity.chain_id, identity.exchange, dropped,
            )  # fmt: skip

    async def reset_chain(self, identity: ChainIdentity) -> list[StoredFill]:
        """The chain was reset (a new genesis or deployment block): drop everything read from
        the old chain (fills, the mirror, its head; unsent settlements are dropped) and bind
        the database to the new chain, in one transaction; the fills dropped (announced as
        reverted: refused, nothing was dropped and the next try returns them). Signed orders
        stay: the node re-judges them."""
        now = time.time()
        meta = list(identity.as_dict().items())
        reset = functools.partial(_reset_rows, meta=meta, now=now)
        dropped = await self._call_async(reset)  # (the event loop runs on: the writer may stall)
        self.rejudge_due = True
        return dropped

    def rejudged(self) -> asyncio.Future[None]:
        """Every stored order was judged again after a reset (``rejudge_due``): not again at
        the next start. Queued after the walk's writes (call on the event loop); resolves at
        its commit."""
        self.rejudge_due = False

        def clear(db: sqlite3.Connection) -> None:
            db.execute(DELETE_REJUDGE, (REJUDGE_KEY,))

        return self._writer.submit_async(clear)

    def hand_over(self) -> None:
        """What the loop queued for the writer (rows, jobs), handed to it now rather than at
        the end of this loop iteration (``Writer.hand_over_now``)."""
        self._writer.hand_over_now()

    def close(self) -> None:
        """Commit what is queued, then stop the writer and close the database."""
        self._writer.close()
        self._close_reader()

    def stats(self) -> dict[str, int]:
        """Jobs run and transactions committed so far (jobs per commit: the grouping)."""
        w = self._writer
        return {
            "jobs": w.jobs,
            "commits": w.commits,
            "handovers": w.handovers,
            "largestGroup": w.largest,
            "unparseableRows": self.unparseable_count,
            "unparseableClosed": self.unparseable_closed,
        }

    # -- orders --------------------------------------------------------------------------
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

    def close_unparseable(self, hashes: Sequence[str]) -> None:
        """Close open rows that cannot be parsed (status removed, reason "unparseable"): no
        longer open, they are known as stored closed orders (not accepted again)."""
        if not hashes:
            return
        now, marks = time.time(), ",".join("?" * len(OPEN_STATUSES))
        sql = (
            "UPDATE orders SET status=?, reason='unparseable', updated_at=?"
            f" WHERE hash=? AND status IN ({marks})"
        )
        rows = [(OrderStatus.REMOVED.value, now, h, *OPEN_STATUSES) for h in hashes]
        self.unparseable_closed += int(self._call(lambda db: db.executemany(sql, rows).rowcount))

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

    def add_replacement(self, replaced: str, tx_hash: str, nonce: int, raw_tx: str) -> Future[Any]:
        """Record ``tx_hash``, signed at higher fees in place of the settlement ``replaced``
        (pooled, not mined: ``sdex.settlement.replace``), with its pairs, before it is sent;
        a restart sends both again (one nonce: at most one lands)."""
        now = time.time()
        row = (tx_hash, nonce, raw_tx, replaced, "pending", now, now)
        sql = (
            "INSERT OR REPLACE INTO settlements VALUES (?,?,?,"
            "COALESCE((SELECT pairs FROM settlements WHERE tx_hash=?), '[]'),?,?,?)"
        )
        return self._writer.submit(lambda db: db.execute(sql, row), urgent=True)

    def set_settlement_status(self, tx_hash: str, status: str) -> asyncio.Future[Any]:
        """Queued at once, without waiting: resolves at its commit (writes queued after it
        commit no earlier); a failure is logged if nobody awaits it. Call on the loop. A
        status past ``pending`` drops the row's raw transaction (``SETTLEMENT_DONE``)."""
        args = (status, time.time(), tx_hash)
        sql = SETTLEMENT_STATUS if status == "pending" else SETTLEMENT_DONE
        fut = asyncio.wrap_future(self._writer.submit(lambda db: db.execute(sql, args)))
        fut.add_done_callback(log_failure)
        return fut

    def pending_settlements(self) -> list[StoredSettlement]:
        """Through the writer (every write queued before is seen): blocks its caller, so
        only at a start, never from a handler (``pending_settlements_committed``). Every row
        not as written (a status the node never writes, or a pending one: ``settlement_of``)
        is logged and marked ``refused`` on the way (``refuse_settlements``)."""
        return self._call(refuse_settlements)

    def given_up_settlements(self) -> list[str]:
        """Through the writer, at a start (as ``pending_settlements``): the latest given-up
        settlements' hashes (``dropped_rows``)."""
        return self._call(dropped_rows)

    def own_fills_above(self, block: int) -> list[tuple[str, int]]:
        """Through the writer, at a start (as ``pending_settlements``): the node's own
        settlements with fills stored above ``block`` (``own_fill_txs_above``)."""
        return self._call(functools.partial(own_fill_txs_above, block=block))

    async def pending_settlements_committed(self) -> list[StoredSettlement]:
        """``pending_settlements`` as committed, read off the event loop and off the writer
        thread (``_listing``): a request never waits for a write, nor blocks the loop."""
        return settlements_of(await self._listing(pending_rows))


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


def bound_deploy_hash(path: Path | str) -> str | None:
    """The deployment block hash the database at ``path`` is bound to (None: no such file,
    none bound, or not readable so: ``Store`` says why), read without a write: a start asks
    the chain whether it still holds that block before ``Store._bind`` takes another hash for
    a replaced chain (``Node._deploy_hash``)."""
    if str(path) == ":memory:" or not Path(path).is_file():
        return None
    try:
        db = sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)
        try:
            row = db.execute("SELECT value FROM meta WHERE key='deploy_block_hash'").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError:
        return None
    return row[0].lower() if row is not None and isinstance(row[0], str) else None


def _reset_rows(
    db: sqlite3.Connection, meta: list[tuple[str, str]], now: float
) -> list[StoredFill]:
    """A chain reset's one transaction (``Store.reset_chain``, and ``Store._bind`` for one
    found at a start): the old chain's fills dropped (returned, in chain order; kept as
    undone: a re-mined one counts again), the mirror and its head, unsent settlements marked
    dropped, the database bound to the new chain; the orders stay, to be judged again, due
    till done (``rejudge_due``: a kill during the re-judging left it undone for good, the
    next start found the new chain's head saved and did no reset; chaos69 f)."""
    sql = "SELECT * FROM fills ORDER BY block_number, log_index"
    dropped = fills_of(db.execute(sql).fetchall())
    for table in ("fills", *MIRROR_TABLES):
        db.execute(f"DELETE FROM {table}")
    db.execute(
        "DELETE FROM meta WHERE key IN"
        " ('mirror_head', 'checkpoint', 'mirror_checkpoints', 'mirror_bitmaps')"
    )
    db.execute(
        "UPDATE settlements SET status='dropped', updated_at=? WHERE status='pending'", (now,)
    )
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [*meta, (REJUDGE_KEY, "1")])
    keep_undone(db, undone_of(dropped), UNDONE_KEPT)  # (a re-mined one counts again)
    return dropped


DOMAIN_KEYS = ("chain_id", "exchange")
"""``ChainIdentity``'s keys in ``meta`` that the orders' EIP-712 domain holds: the same on a
replaced chain (a reset), another deployment's otherwise (``Store._bind``)."""
REJUDGE_KEY = "rejudge_due"
"""``meta``'s key, while every stored order is to be judged again (``Store.rejudge_due``)."""
DELETE_REJUDGE = "DELETE FROM meta WHERE key=?"
UPDATE_ORDER = "UPDATE orders SET status=?, filled=?, reason=?, updated_at=? WHERE hash=?"
SETTLEMENT_STATUS = "UPDATE settlements SET status=?, updated_at=? WHERE tx_hash=?"
SETTLEMENT_DONE = "UPDATE settlements SET status=?, updated_at=?, raw_tx='' WHERE tx_hash=?"
"""A settlement's status once it is no longer ``pending`` (mined, failed, dropped): its raw
transaction is never sent again (only a ``pending`` row's is, at a start: ``sdex.storesettle``)
and is dropped. Kept, each status change rewrote the whole row, ~2 KB a match as hex, in ~50
overflow pages a batch of 100 (twice: freed and written again), ~20% of the pages a settled
batch put in the WAL and the checkpoint copied (anvil60, ``bench/store_pages.py``); and the
file grew by it for ever."""
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
