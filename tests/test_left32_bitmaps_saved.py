"""left32: the bitmap watch (``sdex.mirror.bitmaps``: which (maker, nonce) are provably
untouched) is saved with the head, in its transaction, so a restarted node judges bitmap
orders from its mirror (before: every bitmap order cost a ``getOrderStates`` read after a
restart), and what it knew was touched stays touched. A saved value not as written is
refused alone: bitmap orders are then read from the chain, the rest of the mirror stands."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.mirror.bitmaps import MAX_TAINTED, BitmapWatch
from sdex.order import BITMAP_NONCE_LIMIT
from sdex.store import Store
from sdex.storechain import BITMAPS_KEY
from sdex.watch.saved import read_saved
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_listing_cursor import DOMAIN, IDENTITY
from tests.test_mirror import synced
from tests.test_mirror31_bitmap_mirror import MAKER, OTHER, TAKER, bitmap_orders, calls

H = "0x" + "ab" * 32
M = "0x" + "12" * 20

MAKERS = st.sampled_from(["0x" + c * 40 for c in "0123"])
NONCES = st.integers(0, 3)
HASHES = st.binary(min_size=32, max_size=32)


@settings(max_examples=60, deadline=None)
@given(
    known=st.lists(st.tuples(HASHES, MAKERS, NONCES), max_size=8),
    seen=st.lists(st.tuples(st.integers(0, 9), HASHES, MAKERS), max_size=12),
    asked=st.lists(st.tuples(HASHES, MAKERS, NONCES), min_size=1, max_size=8),
)
def test_a_watch_loaded_as_saved_judges_new_orders_as_the_one_saved(
    known: list[tuple[bytes, str, int]],
    seen: list[tuple[int, bytes, str]],
    asked: list[tuple[bytes, str, int]],
) -> None:
    a = BitmapWatch()
    for h, m, n in known:
        a.know(h, m, n)
    for i, h, m in seen:  # (a known order's fill when i picks one, else an unknown's)
        a.seen(known[i][0] if i < len(known) else h, m)
    text = a.take_dirty() if a.dirty else "[[], []]"
    assert text is not None and not a.dirty and a.take_dirty() is None
    saved = json.loads(text)
    b = BitmapWatch()
    b.load(saved[0], [tuple(p) for p in saved[1]])
    assert not b.dirty
    old = {h for h, _, _ in known}
    for h, m, n in asked:
        if h not in old:  # (salts known are not saved: a new order is judged alike)
            assert b.judgeable(h, m, n) == a.judgeable(h, m, n)


def test_a_watch_over_its_bounds_or_resumed_is_saved_as_null() -> None:
    w = BitmapWatch()
    w.seen(bytes(32), M)
    assert w.take_dirty() == f'[["{M}"], []]'
    w.resumed()
    assert w.take_dirty() == "null"
    w.restart()
    assert w.take_dirty() == "[[], []]"


def _store_with(tmp_path: Path, saved: str | None) -> Store:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    with sqlite3.connect(tmp_path / "s.db") as db:
        db.execute("INSERT INTO meta VALUES ('mirror_head', ?)", (f'[100, "{H}", 5]',))
        if saved is not None:
            db.execute("INSERT INTO meta VALUES (?, ?)", (BITMAPS_KEY, saved))
    return store


def test_a_saved_watch_as_written_is_read_back(tmp_path: Path) -> None:
    store = _store_with(tmp_path, f'[["{M}"], [["{M}", 7]]]')
    try:
        saved = read_saved(store)
        assert saved is not None and saved.bitmaps == ({M}, {(M, 7)})
    finally:
        store.close()


@pytest.mark.parametrize(
    "bad",
    [
        None,  # (none saved: an older version's store)
        "null",
        "{",
        '{"a": 1}',
        "[[], [], []]",
        '[["0xAB"], []]',
        f'[["{M.upper()[2:]}"], []]',
        f'[["{M}", 1], []]',
        f'[[], [["{M}"]]]',
        f'[[], [["{M}", -1]]]',
        f'[[], [["{M}", {BITMAP_NONCE_LIMIT}]]]',
        f'[[], [["{M}", true]]]',
        f'[[], [["{M}", 1.5]]]',
        "[[], [[1, 1]]]",
        "[[" + ",".join([f'"{M}"'] * (MAX_TAINTED + 1)) + "], []]",
        "[" * 50,
    ],
)
def test_a_saved_watch_not_as_written_is_refused_alone(tmp_path: Path, bad: str | None) -> None:
    """The bitmap orders then go to the chain (``bitmaps`` None); the saved head stands."""
    store = _store_with(tmp_path, bad)
    try:
        saved = read_saved(store)
        assert saved is not None and saved.head == (100, H, 5) and saved.bitmaps is None
    finally:
        store.close()


async def test_a_restarted_node_judges_untouched_bitmap_orders_without_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    """MAKER's nonce 1 filled and an order of OTHER's the node never held filled; after a
    restart MAKER's other nonces are judged by the mirror (no read; before: one each), and
    MAKER's nonce 1 and OTHER's orders still by the chain (the fills before the restart
    counted). With the saved value corrupted, a restart reads the chain for each again."""
    c = chain
    order = bitmap_orders(c)
    first = order(MAKER, 1, 3000)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        c.rpc.call("evm_mine")  # (the mirror ready: an order before is taken as unknown)
        await synced(node, c)
        assert (await api.post_taken(first))[0] == 201
        assert (await api.post_taken(order(OTHER, 2, 3000)))[0] == 201  # (OTHER's funds)
        c.exchange.fill_order(c.sender(TAKER), first, 3000 * 10**6)
        c.exchange.fill_order(c.sender(TAKER), order(OTHER, 3, 3000), 3000 * 10**6)
        await synced(node, c)
    async with running_node(cfg) as (node, api):
        c.rpc.call("evm_mine")
        await synced(node, c)
        # (the mirror answers only once the watcher says it follows: a fresh-clone run under
        # load posted before, and the three orders were read from the chain, 4 == 1)
        await wait_for(node.mirror_ready)
        before = calls(node)
        for n in (50, 51, 52):
            code, body = await api.post_taken(order(MAKER, n, 3000 + n))
            assert code == 201 and body["status"] == "open", body
        assert calls(node) == before  # before: one read each
        code, body = await api.post_order(order(MAKER, 1, 3100))  # (its nonce filled)
        assert code != 201 or body["status"] != "open", body
        assert calls(node) > before
        before = calls(node)
        assert (await api.post_taken(order(OTHER, 9, 3000)))[0] == 201
        assert calls(node) > before  # (OTHER tainted before the restart: still)
    with sqlite3.connect(tmp_path / "n.db") as db:
        db.execute("UPDATE meta SET value='[[\"0xnot a maker\"], []]' WHERE key=?", (BITMAPS_KEY,))
    async with running_node(cfg) as (node, api):
        c.rpc.call("evm_mine")
        await synced(node, c)
        before = calls(node)
        assert (await api.post_taken(order(MAKER, 60, 3000)))[0] == 201
        assert calls(node) > before  # refused: by the chain
