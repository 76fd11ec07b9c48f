"""A walk of ``GET /v1/fills`` by cursor across chain reorgs (``sdex.storepage.FILL_KEY``):
every fill stored when the walk ends was listed by it, after it was last stored.

review18: the fills were walked in chain order, so a reorg that undid fills and whose new
branch had them again (or others) at a place the walk's cursor had passed left them out of
that walk for good: an auditor walking to the end never saw them. They are walked in the
order stored now, a ``seq`` never given twice: a fill stored again comes at the end."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.store import Store, StoredFill
from sdex.storepage import FILL_TAG, Cursor
from tests.test_listing_cursor import DOMAIN, IDENTITY, _fill

Key = tuple[str, int, int]
"""A fill as stored: (transaction, log index, block)."""

# One step between two pages: ("block", n) a block of n fills (n may be 0) mined;
# ("reorg", depth, again, more) the last ``depth`` blocks undone, their first ``again``
# fills in the new branch's first block (the same transactions, mined again), and ``more``
# new ones, the new branch as long as the old.
STEP = st.one_of(
    st.tuples(st.just("block"), st.integers(0, 3)),
    st.tuples(st.just("reorg"), st.integers(1, 4), st.integers(0, 6), st.integers(0, 3)),
)


def _key(f: StoredFill) -> Key:
    return f.tx_hash, f.log_index, f.block_number


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.lists(st.integers(0, 3), max_size=6),
    per_page=st.integers(1, 5),
    steps=st.lists(st.lists(STEP, max_size=3), min_size=1, max_size=20),
    order=st.booleans(),
)
def test_a_walk_of_fills_by_cursor_sees_every_fill_a_reorg_stored_again(
    first: list[int], per_page: int, steps: list[list[tuple[int | str, ...]]], order: bool
) -> None:
    """Blocks of fills, then a walk by cursor while, between any two pages, blocks are mined
    and reorgs undo the last blocks and store some of their fills again (in a lower block:
    before the walk's cursor in chain order) with new ones: every fill stored at the walk's
    end was listed, after its last store (its block then); no stored fill listed twice
    unless stored again meanwhile; pages in the order stored. ``order``: one order's walk
    (``?orderHash=``)."""
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_walk(Path(tmp) / "s.db", first, per_page, steps, order))


async def _walk(
    path: Path,
    first: list[int],
    per_page: int,
    steps: list[list[tuple[int | str, ...]]],
    by_order: bool,
) -> None:
    store = Store(path, IDENTITY, DOMAIN)
    orders = ["0x" + "aa" * 32, "0x" + "bb" * 32]
    blocks: list[list[StoredFill]] = []
    made = [0]
    stored_at: dict[Key, int] = {}  # the step after which each fill was last stored
    stores: dict[Key, int] = {}  # how many times each was stored
    now = [0]

    def block(n: int, again: Sequence[StoredFill] = ()) -> None:
        number = len(blocks) + 1
        fills = [replace(f, block_number=number, log_index=i) for i, f in enumerate(again)]
        for i in range(len(again), len(again) + n):
            made[0] += 1
            fill = _fill(number, i, orders[made[0] % 2])
            fills.append(replace(fill, tx_hash=f"0x{made[0]:064x}"))
        blocks.append(fills)
        assert store.add_fills(fills) == fills
        for f in fills:
            stored_at[_key(f)] = now[0]
            stores[_key(f)] = stores.get(_key(f), 0) + 1

    try:
        for n in first:
            block(n)
        only = orders[0] if by_order else None
        got = await store.fill_rows(1, per_page, only)
        listed: list[Key] = []
        listed_at: dict[Key, int] = {}
        pending = list(steps)
        while True:
            for k in map(_key, got.rows):
                listed.append(k)
                listed_at[k] = now[0]
            if got.next is None:
                break
            for step in pending.pop(0) if pending else []:
                now[0] += 1
                if step[0] == "block":
                    block(int(step[1]))
                    continue
                depth, again, more = (int(x) for x in step[1:])
                fork = len(blocks) - min(depth, len(blocks))
                undone = [f for b in blocks[fork:] for f in b]
                assert await store.remove_fills_above(fork) == undone
                length = len(blocks)
                del blocks[fork:]
                block(more, undone[:again])  # (in a lower block than before, if deep)
                while len(blocks) < length:  # (the new branch as long as the old)
                    block(0)
            cursor = Cursor.parse(got.next, 1, FILL_TAG)
            assert cursor is not None
            got = await store.fill_rows(1, per_page, only, cursor)
        at_end = {_key(f) for f in store.fills(1, 10_000, only)[1]}
        missed = {k for k in at_end if listed_at.get(k, -1) < stored_at[k]}
        assert not missed, (missed, listed)
        assert all(listed.count(k) <= stores[k] for k in set(listed)), listed
    finally:
        store.close()


OLD_FILLS = """CREATE TABLE fills (
    tx_hash TEXT NOT NULL, log_index INTEGER NOT NULL, block_number INTEGER NOT NULL,
    order_hash TEXT NOT NULL, maker TEXT NOT NULL, taker TEXT NOT NULL,
    maker_filled TEXT NOT NULL, taker_filled TEXT NOT NULL, fee_recipient TEXT NOT NULL,
    fee TEXT NOT NULL, ours INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX fills_order ON fills (order_hash);"""
"""The fills table of the eighteenth session's store (no ``seq``)."""


async def test_a_store_from_before_seq_numbers_its_fills_in_chain_order(tmp_path: Path) -> None:
    """An older store's fills get ``seq`` 1, 2, ... in chain order (as they were listed);
    the next fill stored comes after them, also after a reorg took the last ones away."""
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_FILLS)
        for b, i in [(9, 0), (3, 1), (3, 0), (5, 0)]:
            f = _fill(b, i)
            db.execute(
                "INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (f.tx_hash, i, b, "0x" + f.order_hash.hex(), f.maker, f.taker, "1", "2",
                 f.fee_recipient, "0", 0),
            )  # fmt: skip
    db.close()
    store = Store(path, IDENTITY, DOMAIN)
    try:
        got = await store.fill_rows(1, 2, None)
        walked = [(f.block_number, f.log_index) for f in got.rows]
        while got.next is not None:
            got = await store.fill_rows(1, 2, None, Cursor.parse(got.next, 1, FILL_TAG))
            walked += [(f.block_number, f.log_index) for f in got.rows]
        assert walked == [(3, 0), (3, 1), (5, 0), (9, 0)]
        assert len(await store.remove_fills_above(4)) == 2
        store.add_fills([_fill(4, 0)])
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT block_number, seq FROM fills ORDER BY seq").fetchall() == [
                (3, 1),
                (3, 2),
                (4, 5),
            ]
        db.close()
    finally:
        store.close()
