"""Which chain a node's store (``sdex.store``) belongs to: its chain id, Exchange address and
deployment block's hash in ``meta`` (``ChainIdentity``), checked at each open (``bind_rows``),
and a reset to a replaced chain (``reset_rows``: what was read from the old chain dropped, the
orders kept and judged again). Each runs in one job of the store's writer thread."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sdex.storefills import StoredFill, fills_of
from sdex.storeschema import FILL_SEQ_KEY, MIRROR_TABLES
from sdex.storeundone import UNDONE_KEPT, keep_undone, undone_of


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


DOMAIN_KEYS = ("chain_id", "exchange")
"""``ChainIdentity``'s keys in ``meta`` that the orders' EIP-712 domain holds: the same on a
replaced chain (a reset), another deployment's otherwise (``bind_rows``)."""
KEPT_TABLES = ("orders", "fills", "settlements", "undone_fills", "rechecks")
"""Tables of one deployment's orders, emptied with the mirror's for another (``bind_rows``)."""
REJUDGE_KEY = "rejudge_due"
"""``meta``'s key, while every stored order is to be judged again (``Store.rejudge_due``)."""


_AS_WRITTEN = {
    "chain_id": re.compile(r"(0|[1-9][0-9]{0,77})\Z"),
    "exchange": re.compile(r"0x[0-9a-f]{40}\Z"),
    "deploy_block_hash": re.compile(r"0x[0-9a-f]{64}\Z"),
}
"""Each ``ChainIdentity`` key's value as ``as_dict`` writes it: any other is damage."""


class DamagedMeta(ValueError):
    """A store's ``meta`` names its deployment in a form the node never writes (review83)."""


def bind_rows(db: sqlite3.Connection, want: dict[str, str], now: float) -> tuple[int | None, bool]:
    """``Store._bind``'s one transaction: the database bound to ``want``
    (``ChainIdentity.as_dict``). A replaced chain (the same domain, another deployment block
    hash) is reset (``reset_rows``); another domain's rows are all dropped. The orders dropped
    so (None: none; the database is rebuilt), and whether a re-judging of every stored order
    is due (``REJUDGE_KEY``)."""
    have = dict(db.execute("SELECT key, value FROM meta WHERE key IN (?, ?, ?)", list(want)))
    for key in DOMAIN_KEYS if have else ():  # (review83: damage read as another deployment
        # had every order, fill and settlement row deleted; nothing is written here)
        value = have.get(key)
        if not (isinstance(value, str) and _AS_WRITTEN[key].match(value)):
            said = "missing" if value is None else repr(value)[:80]
            raise DamagedMeta(
                f"its meta row {key!r} is damaged ({said}), not a deployment's: nothing was"
                f" changed; put it right ({key} {want[key]} for this node's deployment) or"
                " move the database away"
            )
    dropped = None
    if have and all(have.get(k) == want[k] for k in DOMAIN_KEYS):
        if have != want:  # a replaced chain: a reset
            reset_rows(db, list(want.items()), now)
    elif have:  # another domain: no order here can be filled by this Exchange
        dropped = int(db.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        for table in (*KEPT_TABLES, *MIRROR_TABLES):
            db.execute(f"DELETE FROM {table}")
        db.execute("DELETE FROM meta WHERE key != ?", (FILL_SEQ_KEY,))
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list(want.items()))
    due = db.execute("SELECT 1 FROM meta WHERE key=?", (REJUDGE_KEY,)).fetchone()
    return dropped, due is not None


def rejudged_rows(db: sqlite3.Connection) -> None:
    """Every stored order judged again after a reset: none due at the next start."""
    db.execute("DELETE FROM meta WHERE key=?", (REJUDGE_KEY,))


def reset_rows(db: sqlite3.Connection, meta: list[tuple[str, str]], now: float) -> list[StoredFill]:
    """A chain reset's one transaction (``Store.reset_chain``, and ``bind_rows`` for one found
    at a start): the old chain's fills dropped (returned, in chain order; kept as
    undone: a re-mined one counts again), the mirror and its head, unsent settlements marked
    dropped, the database bound to the new chain; the orders stay, to be judged again, due
    till done (``rejudge_due``: a kill during the re-judging left it undone for good, the
    next start found the new chain's head saved and did no reset; chaos69 f)."""
    sql = "SELECT * FROM fills ORDER BY block_number, log_index"
    dropped = fills_of(db.execute(sql).fetchall())
    for table in ("fills", *MIRROR_TABLES):
        db.execute(f"DELETE FROM {table}")
    db.execute(
        "DELETE FROM meta WHERE key IN ('mirror_head', 'checkpoint',"
        " 'mirror_checkpoints', 'mirror_bitmaps', 'mirror_floor')"
    )
    db.execute(
        "UPDATE settlements SET status='dropped', updated_at=? WHERE status='pending'", (now,)
    )
    db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [*meta, (REJUDGE_KEY, "1")])
    keep_undone(db, undone_of(dropped), UNDONE_KEPT)  # (a re-mined one counts again)
    return dropped


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
    if row is None or not isinstance(row[0], str):
        return None
    bound = row[0].lower()  # (damaged: none bound, a reset at the start keeps the orders)
    return bound if _AS_WRITTEN["deploy_block_hash"].match(bound) else None
