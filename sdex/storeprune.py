"""The deletion of dead order rows (``Store.prune_step``): an order that never traded,
closed as ``cancelled`` or ``expired``, whose expiry passed longer ago than the node keeps
such rows (``NodeConfig.expired_retention``), can never trade again, and its row is deleted;
a stream of short-lived orders no longer grows the store without bound (leftovers48).

Kept: every order with a fill (its record stays, beside the fills history; a fill row
counts, whatever the order's row says), every open or
unexpired one (``/p2p/cancelled`` shows only unexpired soft cancels), every ``removed``
one, and the row of the highest ``seq`` (a restart numbers new orders after the highest
stored ``seq``: deleting it would give its ``seq`` again, below a listing's cursor).
The rows are looked at a window of ``seq`` at a time, the sweep starting over at the end,
so one step costs its window, never a scan of the table on the writer thread."""

from __future__ import annotations

import sqlite3

from sdex.storeschema import ORDER_EXPIRY

PRUNED_STATUSES = ("cancelled", "expired")
"""The closed statuses whose rows are deleted once expired long enough (``removed`` ones
stay: a policy close, re-judged by a reset or a cancel-up-to)."""

PRUNE_WINDOW = 512
"""Rows looked at by one step (``seq`` order)."""

_PRUNE = (
    "DELETE FROM orders WHERE seq > ? AND seq <= ? AND seq < ? AND status IN (?, ?)"
    f" AND filled = '0' AND {ORDER_EXPIRY} < ?"
    " AND NOT EXISTS (SELECT 1 FROM fills WHERE fills.order_hash = orders.hash)"
    " RETURNING hash"
)
"""(The fills table too: a closed order's row keeps the ``filled`` it closed with, and a
soft cancel binds nodes, not the chain: filled on chain after it, its fill is listed while
its row said ``filled`` 0; review49: the row was deleted, 404 beside its fill.)"""


def prune_step(
    db: sqlite3.Connection, after: int, expired_before: int, window: int = PRUNE_WINDOW
) -> tuple[list[str], int]:
    """Delete the dead rows (the module's text) among the ``window`` rows of ``seq`` above
    ``after`` whose order expired before ``expired_before`` (unix seconds, the chain's
    clock). Their hashes, and the ``seq`` the next step starts after (0: the sweep ended)."""
    ends = db.execute(
        "SELECT MAX(seq) FROM (SELECT seq FROM orders WHERE seq > ? ORDER BY seq LIMIT ?)",
        (after, window),
    ).fetchone()[0]
    if ends is None:
        return [], 0
    top = db.execute("SELECT MAX(seq) FROM orders").fetchone()[0]
    args = (after, ends, top, *PRUNED_STATUSES, expired_before)
    gone = [str(h) for (h,) in db.execute(_PRUNE, args).fetchall()]
    return gone, 0 if ends >= top else int(ends)
