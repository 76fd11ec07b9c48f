"""What a node's store (``sdex.store``) keeps of the chain: the fills of Exchange logs (each
stored once, in chain order; removed when a reorg undoes them, into ``undone_fills`` in the
same transaction) and the chain mirror with its head. Every write here runs on the store's
writer thread (``sdex.sqlwriter``); when each commits: ``sdex.store``'s text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future
from typing import Any

from sdex import jsonio
from sdex.model import FillEvent
from sdex.storefills import fills_of
from sdex.storeread import MARKED_SELECT, StoredFill, StoreReads
from sdex.storerows import UINT_TEXT
from sdex.storeschema import FILL_SEQ_KEY, INSERT_FILL, last_fill_seq
from sdex.storeundone import UNDONE_KEPT, keep_undone, undone_of

log = logging.getLogger("sdex.store")


FillKey = tuple[str, int, int]
"""A fill as the chain places it: (tx hash, lower-case; log index; block number)."""


def fill_key(f: FillEvent) -> FillKey:
    return f.tx_hash.lower(), f.log_index, f.block_number


class ChainStore(StoreReads):
    """The fills and the mirror of ``sdex.store.Store`` (which opens the connections and
    binds the database to its chain)."""

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

    async def remove_fills_above(self, block_number: int) -> list[StoredFill]:
        """Delete the fills of blocks above ``block_number`` (a reorg undid them); returns
        them, in chain order. One job on the writer thread, awaited (the event loop runs on:
        a reorg never blocks it on the writer, which may stall)."""
        above = (block_number,)

        def remove(db: sqlite3.Connection) -> list[Any]:
            rows = db.execute(
                "SELECT * FROM fills WHERE block_number > ? ORDER BY block_number, log_index",
                above,
            ).fetchall()
            db.execute("DELETE FROM fills WHERE block_number > ?", above)
            keep_undone(db, undone_of(fills_of(rows)), UNDONE_KEPT)
            return rows

        return fills_of(await self._call_async(remove))

    async def remove_fills_except(
        self,
        low: int,
        high: int,
        chain: Collection[FillKey],
        txs: Collection[str] | None = None,
        keep_txs: Collection[str] = (),
    ) -> list[StoredFill]:
        """Delete the fills of blocks ``low``..``high`` (of ``txs`` only, if given; none of
        ``keep_txs``) that are not among ``chain`` (the chain's fills of those blocks, by
        ``fill_key``): stored from a receipt or a notice whose block was reorged out before the
        watcher got there. Returns them, in chain order (one job on the writer thread, awaited
        as ``remove_fills_above``)."""

        def remove(db: sqlite3.Connection) -> list[StoredFill]:
            # the keys first; a row is parsed only if it goes (settle27: every fill of
            # the block was parsed, ~5% of the node's CPU a settled match)
            sql = "SELECT tx_hash, log_index, block_number, rowid FROM fills"
            where = " WHERE block_number BETWEEN ? AND ? ORDER BY block_number, log_index"
            ids = [
                r[3] for r in db.execute(sql + where, (low, high)).fetchall()
                if (tx := r[0].lower(), r[1], r[2]) not in chain and (txs is None or tx in txs)
                and tx not in keep_txs
            ]  # fmt: skip
            gone = fills_of(
                db.execute("SELECT * FROM fills WHERE rowid=?", (i,)).fetchone() for i in ids
            )  # (a row not as written is left out, and deleted with the others)
            db.executemany("DELETE FROM fills WHERE rowid=?", [(i,) for i in ids])
            keep_undone(db, undone_of(gone), UNDONE_KEPT)
            return gone

        return await self._call_async(remove)

    # -- watcher checkpoint and the chain mirror --------------------------------------------
    def checkpoint(self) -> tuple[int, str, int] | None:
        """(number, hash, timestamp) of the last block the mirror applied; None if the mirror
        was never saved (a database from before the mirror is replayed from the start);
        ``ValueError`` for a value not as ``save_mirror`` writes it (review27: no number
        read from text, a float or a bool; nothing parsed unbounded)."""
        return _head_of(self._call(_read_head))

    async def checkpoint_async(self) -> tuple[int, str, int] | None:
        """``checkpoint`` awaited: read through the writer, after every write queued before
        it (a head save whose awaiting task was cancelled may still have committed)."""
        return _head_of(await self._call_async(_read_head))

    async def save_mirror(
        self,
        head: tuple[int, str, int],
        orders: dict[bytes, tuple[int, bool]],
        makers: dict[str, int],
        funds: dict[tuple[str, str], tuple[int, int]],
        checkpoints: list[tuple[int, str]] | None = None,
        bitmaps: str | None = None,
        unsure: Iterable[tuple[str, str]] = (),
        blocks: tuple[list[tuple[int, str]], int] | None = None,
        floor: tuple[int, ...] | None = None,
    ) -> None:
        """The mirror's changes and its head, in one transaction (awaited: durable when it
        returns; the event loop runs on meanwhile), with ``floor``: the fee floor judged at
        that head (block number, base fee: ``HeadSignal._floor``, and the last block passed
        unread past it if any: ``FeeFloor.floor_at``; None: none, deleted), a restart's first
        bound (fee93: never read again from the endpoint); ``checkpoints``
        (``Mirror.checkpoints``) and ``bitmaps`` (JSON text, ``BitmapWatch.take_dirty``)
        too, if given (else the saved ones stay). ``unsure``: accounts whose funds a block
        moved and a read has not given yet (``Watcher._unsure``): their saved funds deleted,
        read from the chain by a start (recheck75: saved as they were before that block, a
        restart took them as exact, a maker with nothing left shown fillable until another
        transfer of hers). ``blocks``: the kept blocks' rows not saved yet (number,
        ``sdex.watch.savedblocks`` text) and the lowest kept (every row below it, or above
        the head, deleted)."""
        order_rows = [("0x" + h.hex(), str(f), int(c)) for h, (f, c) in orders.items()]
        maker_rows = [(m, str(s)) for m, s in makers.items()]
        fund_rows = [(m, t, str(b), str(a)) for (m, t), (b, a) in funds.items()]
        unsure_rows = list(unsure)
        head_json = json.dumps(list(head))
        cps_json = None if checkpoints is None else json.dumps([list(c) for c in checkpoints])
        floor_json = None if floor is None else json.dumps(list(floor))

        def save(db: sqlite3.Connection) -> None:
            db.executemany("INSERT OR REPLACE INTO mirror_orders VALUES (?,?,?)", order_rows)
            db.executemany("INSERT OR REPLACE INTO mirror_makers VALUES (?,?)", maker_rows)
            db.executemany("INSERT OR REPLACE INTO mirror_funds VALUES (?,?,?,?)", fund_rows)
            db.executemany("DELETE FROM mirror_funds WHERE maker=? AND token=?", unsure_rows)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('mirror_head', ?)", (head_json,))
            if floor_json is None:
                db.execute("DELETE FROM meta WHERE key=?", (FLOOR_KEY,))
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (FLOOR_KEY, floor_json))
            if cps_json is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (CHECKPOINTS_KEY, cps_json))
            if bitmaps is not None:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (BITMAPS_KEY, bitmaps))
            if blocks is not None:
                rows, low = blocks
                db.execute(BLOCKS_OUT, (low, head[0]))
                db.executemany("INSERT OR REPLACE INTO mirror_blocks VALUES (?, ?)", rows)

        await self._call_async(save)

    def saved_checkpoints(self) -> object:
        """The checkpoints ``save_mirror`` saved, as parsed (None: none saved; checked by
        ``sdex.watch.saved``); ``ValueError`` for text that is not bounded JSON."""
        sql = "SELECT value FROM meta WHERE key=?"
        row = self._call(lambda db: db.execute(sql, (CHECKPOINTS_KEY,)).fetchone())
        return None if row is None else jsonio.stored(row[0], max_depth=2)

    def saved_floor(self) -> object:
        """The fee floor ``save_mirror`` saved with the head, as parsed (None: none saved;
        checked by ``sdex.watch.saved``); ``ValueError`` for text that is not bounded JSON."""
        sql = "SELECT value FROM meta WHERE key=?"
        row = self._call(lambda db: db.execute(sql, (FLOOR_KEY,)).fetchone())
        return None if row is None else jsonio.stored(row[0], max_depth=1)

    def saved_blocks(self, at_most: int) -> list[tuple[int, str]]:
        """The kept blocks ``save_mirror`` saved, highest first, ``at_most`` of them (each
        row checked by ``sdex.watch.savedblocks``)."""
        sql = "SELECT number, body FROM mirror_blocks ORDER BY number DESC LIMIT ?"
        rows = self._call(lambda db: db.execute(sql, (at_most,)).fetchall())
        return [(int(n), b) for n, b in rows]

    def saved_bitmaps(self) -> object:
        """What ``save_mirror`` saved of the bitmap watch, as parsed (None: none saved, or
        ``null``; checked by ``sdex.watch.saved``); ``ValueError`` for text that is not
        bounded JSON."""
        sql = "SELECT value FROM meta WHERE key=?"
        row = self._call(lambda db: db.execute(sql, (BITMAPS_KEY,)).fetchone())
        return None if row is None else jsonio.stored(row[0], max_depth=3)

    def load_mirror(self) -> tuple[dict[str, int], dict[tuple[str, str], tuple[int, int]]]:
        """The saved makers' ``minValidSalt`` and accounts' funds (the orders' rows stay
        here: read by hash when named, ``mirror_order_now``; ``marks_now`` names them);
        ``ValueError`` at an amount not in decimal digits as ``save_mirror`` writes it
        (review27: ``int()`` took "+5", "1_000", " 5 ", other scripts' digits and bytes)."""

        def load(db: sqlite3.Connection) -> tuple[list[Any], list[Any]]:
            return (
                db.execute("SELECT * FROM mirror_makers").fetchall(),
                db.execute("SELECT * FROM mirror_funds").fetchall(),
            )

        maker_rows, fund_rows = self._call(load)
        makers = {m: uint_of(s) for m, s in maker_rows}
        funds = {(m, t): (uint_of(b), uint_of(a)) for m, t, b, a in fund_rows}
        return makers, funds

    def count_marks(self) -> int:
        """How many orders the chain filled or cancelled (the mirror's filter is sized so)."""
        sql = MARKED_SELECT.replace("SELECT hash", "SELECT COUNT(*)")
        return int(self._call(lambda db: db.execute(sql).fetchone()[0]))


def uint_of(text: object) -> int:
    """A saved amount: decimal digits (``UINT_TEXT``), or ``ValueError``."""
    if not isinstance(text, str) or not UINT_TEXT.fullmatch(text):
        raise ValueError(f"a saved amount {str(text)[:80]!r} is not in decimal digits")
    return int(text)


BLOCKS_OUT = "DELETE FROM mirror_blocks WHERE number < ? OR number > ?"
"""The saved blocks below the kept ones, or above the head (undone by a reorg)."""
CHECKPOINTS_KEY = "mirror_checkpoints"
"""``meta``'s key of the mirror's sparse checkpoints (JSON ``[[number, hash], ...]``)."""
FLOOR_KEY = "mirror_floor"
"""``meta``'s key of the fee floor judged at the mirror's head (JSON ``[number, base fee]``:
``HeadSignal._floor``), saved with it: a restart's first bound (fee93)."""
BITMAPS_KEY = "mirror_bitmaps"
"""``meta``'s key of the bitmap watch (``sdex.mirror.bitmaps``; JSON ``[[maker, ...],
[[maker, nonce], ...]]``, or ``null``)."""

_UNSTORABLE = (OverflowError, sqlite3.InterfaceError, sqlite3.ProgrammingError)
"""A row's own failures (an integer past 2^63, a value SQLite cannot bind): deterministic,
never a reason to fail the whole fills job (disk errors still are; and a bug's TypeError
or AttributeError fails the job rather than dropping fills)."""


def _sent_here(db: sqlite3.Connection, f: StoredFill) -> bool:
    """Whether ``f``'s transaction is a settlement this node sent (its ``settlements`` row,
    kept for good): its fills are this node's however they reach the store. ``Settler.ours`` knows
    only this run's; tests63: a restarted node wrote its own settlement's fills again as
    another node's (``settledByThisNode`` false) when a reorg had them mined again, or its
    start replayed their block (the row left out at load, attack31)."""
    if not isinstance(f.tx_hash, str):
        return False  # (left to the insert, which drops it)
    return db.execute(OWN_SETTLEMENT, (f.tx_hash.lower(),)).fetchone() is not None


OWN_SETTLEMENT = "SELECT 1 FROM settlements WHERE tx_hash = ?"


def _fills_job(fills: Sequence[StoredFill]) -> Callable[[sqlite3.Connection], list[StoredFill]]:
    """Insert the new ones of ``fills``, in chain order, each given the next ``seq`` (the
    listing's order: ``sdex.storeschema.FILL_INDEXES``), the counter kept in ``meta``."""

    def chain_order(f: StoredFill) -> tuple[int, int]:
        try:
            return int(f.block_number), int(f.log_index)
        except (TypeError, ValueError):  # (left to the insert, which drops it)
            return 0, 0

    def insert(db: sqlite3.Connection) -> list[StoredFill]:
        new: list[StoredFill] = []
        seq = last_fill_seq(db)
        for fill in sorted(fills, key=chain_order):
            f = StoredFill.of(fill, True) if not fill.ours and _sent_here(db, fill) else fill
            try:
                cur = db.execute(
                    INSERT_FILL,
                    (
                        f.tx_hash, f.log_index, f.block_number, "0x" + f.order_hash.hex(),
                        f.maker, f.taker,
                        str(f.maker_filled), str(f.taker_filled), f.fee_recipient, str(f.fee),
                        int(f.ours), seq + 1,
                    ),
                )  # fmt: skip
            except _UNSTORABLE as e:  # (a row no retry stores: dropped, the others kept)
                log.error("a fill SQLite cannot store is dropped: %s (%r)", e, f)
                continue
            if cur.rowcount:
                new.append(f)
                seq += 1
        if new:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (FILL_SEQ_KEY, str(seq)))
        return new

    return insert


def _read_head(db: sqlite3.Connection) -> Any:
    return db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()


def _head_of(row: Any) -> tuple[int, str, int] | None:
    """``StoreChain.checkpoint``'s row read as ``save_mirror`` writes it."""
    if row is None:
        return None
    head = jsonio.stored(row[0], max_depth=1)
    if not isinstance(head, list) or len(head) != 3:
        raise ValueError(f"the saved head {str(head)[:80]!r} is not [number, hash, time]")
    number, block_hash, timestamp = head
    if not all(type(v) is int for v in (number, timestamp)) or type(block_hash) is not str:
        raise ValueError(f"the saved head {str(head)[:160]!r} is not [number, hash, time]")
    return number, block_hash, timestamp
