"""One SQLite write transaction of a schema change, rolled back whole if any part of it fails
(the migrations of ``sdex.storeschema`` and ``sdex.storememo``, run on a connection outside
any transaction while the store opens)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def rolled_back_on_error(db: sqlite3.Connection) -> Iterator[None]:
    """The transaction the block begins (a script's ``BEGIN IMMEDIATE; ...; COMMIT;``) rolled
    back if the block raises anything (an interrupt too), then the error raised on."""
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """The block in one transaction that takes the write lock first (``BEGIN IMMEDIATE``),
    committed at its end; rolled back if it raises (``rolled_back_on_error``)."""
    db.execute("BEGIN IMMEDIATE")
    with rolled_back_on_error(db):
        yield
        db.execute("COMMIT")
