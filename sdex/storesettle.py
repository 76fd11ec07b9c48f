"""The ``settlements`` table's rows as the node keeps them: one per signed settlement
transaction, written before it is broadcast (``Store.add_settlement``), its status moved
as it lands or is given up (``SETTLEMENT_STATUSES``); read back at a start to finish what a
previous run left ``pending`` (``sdex.settlement.reconcile``), and by the web page (those in
flight).
Only a ``pending`` row keeps its raw transaction: a status past it drops it
(``sdex.store.SETTLEMENT_DONE``; anvil60).

A row the node never writes (the file is another hand's: a disk error, an edit, an older
version's bug) is refused at the start that reads them: logged once and marked ``refused``,
never read again. leftovers38 (attack31 left this table unchecked): a row edited to ``sent``
with junk in it stayed so, unlogged, for ever; a ``pending`` row's hash that is not a hash
went to the chain (``eth_getTransactionReceipt``), whose refusal stopped the node's start.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from sdex import jsonio
from sdex.keccak import keccak

log = logging.getLogger("sdex.store")

SETTLEMENT_STATUSES = ("pending", "mined", "failed", "dropped", "refused")
"""Every status a ``settlements`` row is written with: ``pending`` (signed, maybe sent),
``mined`` and ``failed`` (its receipt's), ``dropped`` (given up, or its chain left), and
``refused`` (not as written: ``refuse_settlements``)."""

REFUSED = "refused"

MAX_REFUSED_NAMED = 1024
"""Refused rows logged by hash each (past these, counted in one line a start)."""


@dataclass(frozen=True, slots=True)
class StoredSettlement:
    tx_hash: str
    nonce: int
    raw_tx: str
    pairs: list[tuple[str, str]]
    status: str


def settlement_of(r: tuple[Any, ...]) -> StoredSettlement:
    """A row (``tx_hash, nonce, raw_tx, pairs, status``) as this node writes it: the hash
    ``0x`` and 64 lower-case hex digits, the keccak of the raw transaction (``0x`` and its
    bytes in lower-case hex), a nonce within uint64, the pairs a JSON list of two order
    hashes each, a status of ``SETTLEMENT_STATUSES``; ``ValueError`` for anything else."""
    tx_hash, nonce, raw_tx, pairs_text, status = r
    if status not in SETTLEMENT_STATUSES:
        raise ValueError(f"status {str(status)[:40]!r} is not one the node writes")
    if not _is(HASH, tx_hash):
        raise ValueError("its hash is not 0x and 64 lower-case hex digits")
    if type(nonce) is not int or not 0 <= nonce < 2**64:
        raise ValueError(f"nonce {str(nonce)[:40]!r} is not a uint64")
    if not _is(RAW, raw_tx) or len(raw_tx) % 2:
        raise ValueError("its raw transaction is not 0x and lower-case hex bytes")
    if "0x" + keccak(bytes.fromhex(raw_tx[2:])).hex() != tx_hash:
        raise ValueError("its hash is not its raw transaction's")
    pairs = jsonio.stored(pairs_text, max_depth=2)
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and _is(HASH, p[0]) and _is(HASH, p[1]) for p in pairs
    ):
        raise ValueError("its pairs are not pairs of order hashes")
    return StoredSettlement(tx_hash, nonce, raw_tx, [(a, b) for a, b in pairs], status)


def settlements_of(rows: list[Any]) -> list[StoredSettlement]:
    """The rows' settlements; a row that is not one is logged (once) and left out (review27:
    its pairs nested deep, or not pairs, stopped the node's start): its transaction, if it
    landed, is the chain's to tell (the watcher applies its fills)."""
    out: list[StoredSettlement] = []
    for r in rows:
        try:
            out.append(settlement_of(r))
        except (ValueError, TypeError) as e:
            key = str(r[0])[:80]
            if len(_UNPARSEABLE) < MAX_REFUSED_NAMED and key not in _UNPARSEABLE:
                _UNPARSEABLE.add(key)  # (the web page reads the pending ones every few seconds)
                log.warning("stored settlement %.80s cannot be parsed (skipped): %.200s", key, e)
    return out


_UNPARSEABLE: set[str] = set()
"""Settlement rows said unparseable (``settlements_of``)."""


def pending_rows(db: sqlite3.Connection) -> list[Any]:
    """The pending rows in nonce order, those at one nonce in the order recorded (the
    latest last: a start in doubt adopts it, ``Reconcile._unread``)."""
    return db.execute(
        "SELECT tx_hash, nonce, raw_tx, pairs, status FROM settlements"
        " WHERE status='pending' ORDER BY nonce, created_at"
    ).fetchall()


GIVEN_UP_KEPT = 256
"""The latest given-up (``dropped``) settlements a start reads back (``dropped_rows``)."""


OWN_FILLS_ABOVE = 256
"""The node's own settlements with fills above the saved head a start reads back at most
(``own_fill_txs_above``): the lowest blocks'."""


def own_fill_txs_above(db: sqlite3.Connection, block: int) -> list[tuple[str, int]]:
    """(A start's) the node's own settlements whose fills it stored in blocks above
    ``block`` (the saved mirror's head): (hash, block), each once, the lowest blocks first,
    ``OWN_FILLS_ABOVE`` at most. A few in practice: the head is saved once a block's fills
    are durable, and the settler stores its own from their receipt, a block or two before
    (chaos74). count77: unbounded, a store whose head went unsaved for long (its saves
    failing while the settler's fills committed) had the start read and hold every one.
    Past the bound (logged): a later one is not counted as given up, so its fill of a
    one-shot order closed at the restart counts in that order nowhere (chaos74's defect,
    for those alone; ``sdex audit`` tells it). Read through ``fills_chain``, in its order."""
    rows = db.execute(
        "SELECT DISTINCT tx_hash, block_number FROM fills INDEXED BY fills_chain"
        " WHERE block_number > ? AND ours = 1 ORDER BY block_number LIMIT ?",
        (block, OWN_FILLS_ABOVE + 1),
    ).fetchall()
    if len(rows) > OWN_FILLS_ABOVE:
        rows = rows[:OWN_FILLS_ABOVE]
        log.warning(
            "more than %d own settlements with fills above the saved head %d: from block"
            " %d on, not all counted as given up",
            OWN_FILLS_ABOVE, block, rows[-1][1],
        )  # fmt: skip
    return [
        (r[0].lower(), r[1])
        for r in rows
        if isinstance(r[0], str) and HASH.fullmatch(r[0].lower()) and type(r[1]) is int
    ]


def dropped_rows(db: sqlite3.Connection) -> list[str]:
    """(A start's) the hashes of the latest ``GIVEN_UP_KEPT`` settlements given up: such a
    transaction may still land (in the chain's pool), or have landed while the node was down
    (chaos63: a second restart forgot that its fills count in the orders it closed). Read
    through ``settlements_dropped`` (settle69: ordered by an unindexed column, every row of
    the table was read and the dropped ones sorted, at each start)."""
    rows = db.execute(
        "SELECT tx_hash FROM settlements INDEXED BY settlements_dropped"
        " WHERE status='dropped' ORDER BY updated_at DESC LIMIT ?",
        (GIVEN_UP_KEPT,),
    ).fetchall()
    hashes = [r[0].lower() for r in rows if isinstance(r[0], str)]
    return [h for h in hashes if HASH.fullmatch(h)]


def refuse_settlements(db: sqlite3.Connection) -> list[StoredSettlement]:
    """(A start's, on the writer) The ``pending`` settlements as written, in nonce order (at
    one nonce as written: the adoption marks the earlier ``superseded``, review97d);
    every row of a status the node never writes, and every ``pending`` one not as written,
    logged (by hash, the first ``MAX_REFUSED_NAMED``) and marked ``refused``: the status
    column's index-free scan, one read a start."""
    known = ",".join("?" * len(SETTLEMENT_STATUSES))
    rows = db.execute(
        "SELECT rowid, tx_hash, nonce, raw_tx, pairs, status FROM settlements"
        f" WHERE status='pending' OR status NOT IN ({known}) ORDER BY nonce, rowid",
        SETTLEMENT_STATUSES,
    ).fetchall()
    out: list[StoredSettlement] = []
    refused: list[int] = []
    for rowid, *r in rows:
        try:
            out.append(settlement_of(tuple(r)))  # (a known status: "pending")
        except (ValueError, TypeError) as e:
            if len(refused) < MAX_REFUSED_NAMED:
                log.warning("stored settlement %.80s is not as written (refused): %.200s", r[0], e)
            refused.append(rowid)
    if len(refused) > MAX_REFUSED_NAMED:
        log.warning("%d stored settlements not as written (refused)", len(refused))
    db.executemany(
        "UPDATE settlements SET status=? WHERE rowid=?", [(REFUSED, rowid) for rowid in refused]
    )
    return out


HASH = re.compile(r"0x[0-9a-f]{64}")
RAW = re.compile(r"0x[0-9a-f]*")


def _is(pattern: re.Pattern[str], v: object) -> bool:
    return isinstance(v, str) and pattern.fullmatch(v) is not None
