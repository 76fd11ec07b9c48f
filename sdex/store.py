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

Here: the open and the settlements' writes. The binding to a chain (a reset to a new one
too): ``sdex.storebind``; the orders' writes: ``sdex.storeorders``; the reads:
``sdex.storeread``; the fills and the mirror: ``sdex.storechain``; the schema:
``sdex.storeschema``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import sqlite3
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from sdex.errors import SdexError
from sdex.order import Domain
from sdex.sqlwriter import StoreError as StoreError
from sdex.sqlwriter import Writer, log_failure
from sdex.storebind import ChainIdentity as ChainIdentity
from sdex.storebind import DamagedMeta, bind_rows, rejudged_rows, reset_rows
from sdex.storebind import bound_deploy_hash as bound_deploy_hash
from sdex.storechain import ChainStore
from sdex.storechain import FillKey as FillKey
from sdex.storechain import fill_key as fill_key
from sdex.storefills import own_fill as own_fill
from sdex.storeorders import OrderWrites
from sdex.storeorphans import OrphanStore
from sdex.storeread import OrderRow as OrderRow
from sdex.storeread import StoredFill as StoredFill
from sdex.storerecheck import RecheckStore
from sdex.storerows import StoredOrder as StoredOrder
from sdex.storeschema import open_order_counts, open_orders_table, open_schema
from sdex.storesettle import StoredSettlement as StoredSettlement
from sdex.storesettle import (
    dropped_rows,
    own_fill_txs_above,
    pending_rows,
    refuse_settlements,
    settlements_of,
)
from sdex.storestandings import StandingStore
from sdex.storeundone import UndoneStore

log = logging.getLogger("sdex.store")


class StoreOpenError(StoreError, SdexError):
    """The database file cannot be opened as a node's store (``sdex node``: one line)."""


class Store(ChainStore, OrderWrites, UndoneStore, OrphanStore, RecheckStore, StandingStore):
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
        self.drops_retried = 0
        """Refused drops of rows never sent whose time to be written again came
        (``drop_unsent``: written again, or not if the row was recorded again since)."""
        self._dropping: dict[str, bool] = {}
        """Rows never sent whose drop is not committed yet (``drop_unsent``): recorded again
        since (True), or not."""
        """The database was bound to another deployment (``_bind``): rebuilt empty."""
        self.rejudge_due = False
        """A reset (``reset_chain``, or one ``_bind`` found) whose re-judging of every stored
        order is not done (``rejudged``): a start does it (``Node.load``)."""
        self.unparseable_rows: set[str] = set()
        self.unparseable_count = 0
        self.unparseable_closed = 0
        """Open rows that could not be parsed, closed at a start (``close_unparseable``)."""
        self.damaged_stored: set[str] = set()
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
        bind = functools.partial(bind_rows, want=identity.as_dict(), now=time.time())
        try:
            dropped, self.rejudge_due = self._call(bind)
        except StoreError as e:  # (the writer's, the job's own as its cause)
            if not isinstance(damaged := e.__cause__, DamagedMeta):
                raise
            raise StoreOpenError(f"the database {self.path} cannot be used: {damaged}") from None
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
        reset = functools.partial(reset_rows, meta=meta, now=now)
        dropped = await self._call_async(reset)  # (the event loop runs on: the writer may stall)
        self.rejudge_due = True
        return dropped

    def rejudged(self) -> asyncio.Future[None]:
        """Every stored order was judged again after a reset (``rejudge_due``): not again at
        the next start. Queued after the walk's writes (call on the event loop); resolves at
        its commit."""
        self.rejudge_due = False
        return self._writer.submit_async(rejudged_rows)

    def hand_over(self) -> None:
        """What the loop queued for the writer (rows, jobs), handed to it now rather than at
        the end of this loop iteration (``Writer.hand_over_now``)."""
        self._writer.hand_over_now()

    def close(self) -> None:
        """Commit what is queued, then stop the writer and close the database."""
        self._writer.close()
        self._close_reader()

    def stats(self) -> dict[str, object]:
        """Jobs run and transactions committed so far (jobs per commit: the grouping)."""
        w = self._writer
        return {
            "jobs": w.jobs,
            "commits": w.commits,
            "handovers": w.handovers,
            "largestGroup": w.largest,
            "unparseableRows": self.unparseable_count,
            "unparseableClosed": self.unparseable_closed,
            "damagedRows": self.damaged_rows(),  # (bounds84)
        }

    def gate_waits(self) -> tuple[int, float]:
        """Commits the writer held back for the WAL's checkpoints (``Checkpointer.gate``) and
        their seconds; (0, 0.0) for a store with no checkpointer (in memory)."""
        cp = self._writer.checkpointer
        return (0, 0.0) if cp is None else (cp.gate_waits, cp.gate_seconds)

    def checkpoint_failures(self) -> tuple[int, int, int]:
        """Commits whose checkpointer's gate, and whose wake of it, raised (each commit went
        on without it: ``Writer._guarded``); /metrics (review98b: counted, shown nowhere);
        and the checkpoint thread's own failures (a checkpoint SQLite refused, a round that
        raised: ``Checkpointer.failures``; store98: counted, shown nowhere, the WAL growing
        unseen). 0 for a store with no checkpointer (in memory)."""
        w = self._writer
        cp = w.checkpointer
        return w.gate_failures, w.checkpoint_failures, 0 if cp is None else cp.failures

    # -- settlements ---------------------------------------------------------------------
    def add_settlement(
        self,
        tx_hash: str,
        nonce: int,
        raw_tx: str,
        pairs: list[tuple[str, str]],
        given_back: Sequence[str] = (),
    ) -> Future[Any]:
        """Record a signed settlement *before* it is broadcast, so a restart can reconcile it:
        urgent, resolved on the writer thread once durable (a callback there may send it).
        ``given_back``: settlements signed at ``nonce`` before, never sent, their nonce given
        back (``BatchTx._give_back``): their rows, if still pending, dropped in the same
        transaction (settle80: never two pending rows at a nonce, one of them withdrawn: a
        restart sent its bytes again)."""
        now = time.time()
        if tx_hash in self._dropping:  # (the same bytes signed again: its drop not retried)
            self._dropping[tx_hash] = True
        row = (tx_hash, nonce, raw_tx, json.dumps(pairs), "pending", now, now)
        sql = "INSERT OR REPLACE INTO settlements VALUES (?,?,?,?,?,?,?)"
        drops = [("dropped", now, h, nonce) for h in given_back]

        def record(db: sqlite3.Connection) -> None:
            db.executemany(SETTLEMENT_GIVEN_BACK, drops)
            db.execute(sql, row)

        return self._writer.submit(record, urgent=True)

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

    def set_settlement_status(
        self, tx_hash: str, status: str, urgent: bool = False
    ) -> asyncio.Future[Any]:
        """Queued at once, without waiting: resolves at its commit (writes queued after it
        commit no earlier); a failure is logged if nobody awaits it. Call on the loop. A
        status past ``pending`` drops the row's raw transaction (``SETTLEMENT_DONE``).
        ``urgent``: committed without the group window (a row whose bytes must never go)."""
        args = (status, time.time(), tx_hash)
        sql = SETTLEMENT_STATUS if status == "pending" else SETTLEMENT_DONE
        write = self._writer.submit(lambda db: db.execute(sql, args), urgent=urgent)
        fut = asyncio.wrap_future(write)
        fut.add_done_callback(log_failure)
        return fut

    def drop_unsent(self, tx_hash: str, again: float | None = None) -> asyncio.Future[Any]:
        """``tx_hash``'s row (a settlement never sent: its bytes must never go) ``dropped``,
        urgent, and written again after each refusal, ``again`` seconds on (``DROP_AGAIN``;
        doubled each time, to ``DROP_AGAIN_MAX``), till it commits or the store closes.
        review81: a drop the store refused (locked past its busy timeout) with nothing signed
        at its nonce since left the row pending for the run: a restart sent its bytes, mined
        and reverted. Not written again once the row is recorded again (``add_settlement``):
        review81b, the same bytes signed again at the nonce given back (the same pair matched
        again, the same fees) were recorded and sent meanwhile, and the retry marked that
        row ``dropped``, its bytes erased (a kill before it was mined: not adopted, its orders
        matched again while its bytes were pooled, a paid revert)."""
        wait = DROP_AGAIN if again is None else again
        self._dropping[tx_hash] = False  # (True once recorded again: not written again)
        fut = self.set_settlement_status(tx_hash, "dropped", urgent=True)
        fut.add_done_callback(lambda f: self._drop_again(tx_hash, f, wait))
        return fut

    def _drop_again(self, tx_hash: str, fut: asyncio.Future[Any], again: float) -> None:
        if fut.cancelled() or fut.exception() is None or self._dropping.get(tx_hash, True):
            self._dropping.pop(tx_hash, None)  # (dropped, or recorded again since)
            return
        later = min(2 * again, DROP_AGAIN_MAX)
        with contextlib.suppress(RuntimeError):  # (no loop running: the node stopped)
            asyncio.get_running_loop().call_later(again, self._drop_retry, tx_hash, later)

    def _drop_retry(self, tx_hash: str, again: float) -> None:
        self.drops_retried += 1
        if self._dropping.pop(tx_hash, True):  # (recorded again meanwhile: its row stands)
            return
        with contextlib.suppress(StoreError):  # (closed meanwhile: the node stopping)
            self.drop_unsent(tx_hash, again)

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


DROP_AGAIN = 1.0
"""Seconds before a refused drop of a row never sent is written again (``drop_unsent``)."""
DROP_AGAIN_MAX = 30.0
"""The longest wait between two such writes (each refusal doubles it)."""
SETTLEMENT_STATUS = "UPDATE settlements SET status=?, updated_at=? WHERE tx_hash=?"
SETTLEMENT_DONE = "UPDATE settlements SET status=?, updated_at=?, raw_tx='' WHERE tx_hash=?"
SETTLEMENT_GIVEN_BACK = (
    "UPDATE settlements SET status=?, updated_at=?, raw_tx=''"
    " WHERE tx_hash=? AND nonce=? AND status='pending'"
)
"""A settlement given back unsent, dropped as the next row at its nonce is recorded."""
"""A settlement's status once it is no longer ``pending`` (mined, failed, dropped): its raw
transaction is never sent again (only a ``pending`` row's is, at a start: ``sdex.storesettle``)
and is dropped. Kept, each status change rewrote the whole row, ~2 KB a match as hex, in ~50
overflow pages a batch of 100 (twice: freed and written again), ~20% of the pages a settled
batch put in the WAL and the checkpoint copied (anvil60, ``bench/store_pages.py``); and the
file grew by it for ever."""
