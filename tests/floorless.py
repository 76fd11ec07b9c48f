"""A store saved without a fee floor (an older version's, before fee93) restarted behind a
proxy that refuses every ``eth_getLogs`` (no block read by number: the head's fee alone
bounds) and rewrites the blocks read by number as the test says: the set-up fee95's
old-store test and review97a's head-again test share. A real SQLite store; the proxy's
``relaying`` edit (``tests.test_bounds84_base_fee``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any


def floor_dropped(db: Path) -> None:
    """``db``'s saved fee floor (``meta``'s ``mirror_floor`` row) deleted, as a store saved
    before fee93 has it."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("DELETE FROM meta WHERE key='mirror_floor'").rowcount == 1
    conn.close()


def logs_refused(
    block: Callable[[object, dict[str, Any]], None],
) -> Callable[[list[dict[str, object]], list[Any]], None]:
    """A ``relaying`` edit: every ``eth_getLogs`` answered an error (the mirror's ranges
    fail); each block an ``eth_getBlockByNumber`` answers handed to ``block`` with the
    number asked (its first parameter) to rewrite in place."""

    def edit(calls: list[dict[str, object]], answers: list[Any]) -> None:
        for q, r in zip(calls, answers, strict=False):
            if not isinstance(r, dict):
                continue
            if q.get("method") == "eth_getLogs":  # (no range read: nothing by number)
                r.pop("result", None)
                r["error"] = {"code": -32000, "message": "backend unavailable"}
                continue
            got = r.get("result")
            params = q.get("params")
            said = params[0] if isinstance(params, list) and params else None
            if q.get("method") == "eth_getBlockByNumber" and isinstance(got, dict):
                block(said, got)

    return edit
