"""The store's writer thread: group commit, ordering, a failing job, close."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
from pathlib import Path

import pytest

import sdex.sqlwriter
from sdex import storeread
from sdex.chain.tx import Log
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, address_of, random_salt, sign_order
from sdex.store import ChainIdentity, Store, StoredFill, StoreError

DOMAIN = Domain(31337, "0x" + "ab" * 20)
IDENTITY = ChainIdentity(31337, "0x" + "ab" * 20, "0x" + "cd" * 32)
KEY = bytes.fromhex("11" * 32)


def _order(i: int) -> SignedOrder:
    o = Order(
        address_of(KEY), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18 + i, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, random_salt(),
    )  # fmt: skip
    return sign_order(o, DOMAIN, KEY)


async def test_concurrent_orders_share_transactions_and_are_all_committed(
    tmp_path: Path,
) -> None:
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN, group_window=0.005)
    orders = [_order(i) for i in range(500)]
    futures = [store.add_order_async(s, i + 1, "open", "api") for i, s in enumerate(orders)]
    await asyncio.gather(*futures)
    stats = store.stats()
    assert stats["jobs"] >= 500
    assert stats["commits"] < stats["jobs"] // 10  # grouped, not one commit per order
    assert stats["largestGroup"] > 10
    # a resolved future means committed: another connection sees every row now
    with sqlite3.connect(db) as other:
        assert other.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 500
    store.close()


async def test_an_orders_json_is_stored_as_json_dumps_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer encodes a row's order dict with an encoder made once, not ``json.dumps``
    (which makes one each call, with the GIL held): the same text as ``json.dumps`` (what
    older rows hold, and what readers parse)."""
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    signed = [_order(i) for i in range(3)]
    tricky = {**signed[2].to_json(), "note": 'a "quoted" \\ caf\u00e9 \u2603'}
    want = [json.dumps(signed[0].to_json()), json.dumps(signed[1].to_json()), json.dumps(tricky)]

    def no_dumps(*args: object, **kwargs: object) -> str:
        raise AssertionError("json.dumps called for an order row")

    monkeypatch.setattr(json, "dumps", no_dumps)
    await asyncio.gather(
        store.add_order_async(signed[0], 1, "open", "api"),  # its dict: encoded by the writer
        store.add_order_async(signed[1], 2, "open", "api", "gtc", signed[1].to_json()),
        store.add_order_async(signed[2], 3, "open", "api", "gtc", tricky),
    )
    monkeypatch.undo()
    store.close()
    with sqlite3.connect(db) as other:
        rows = other.execute("SELECT order_json FROM orders ORDER BY seq").fetchall()
    assert [r[0] for r in rows] == want


async def test_reads_see_every_write_queued_before_them(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    orders = [_order(i) for i in range(50)]
    futures = [store.add_order_async(s, i + 1, "open", "api") for i, s in enumerate(orders)]
    # not awaited yet: the read is queued behind the inserts, on the same thread
    assert [s.signed.hash for s in store.orders()] == [s.hash for s in orders]
    assert store.next_seq() == 51
    await asyncio.gather(*futures)
    store.close()


async def test_the_writers_journals_of_a_statement_are_kept_in_memory(tmp_path: Path) -> None:
    """Each writer job runs in a savepoint and an order's insert fires ``order_counts``'
    triggers: both need a statement journal, which SQLite keeps in a temporary file
    (created and deleted per transaction) unless ``temp_store`` is ``MEMORY`` (http20); a
    savepoint rolled back from it still undoes only its own job."""
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        assert store._call(lambda db: db.execute("PRAGMA temp_store").fetchone()[0]) == 2

        def fails(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO meta VALUES ('x', '1')")
            raise ValueError("undone")

        signed = _order(1)
        kept = store.add_order_async(signed, 1, "open", "api")
        undone = store._writer.submit_async(fails)
        await asyncio.gather(kept, return_exceptions=True)
        with pytest.raises(StoreError):
            await undone
        assert [s.signed.hash for s in store.orders()] == [signed.hash]
        counts = "SELECT status, n FROM order_counts WHERE n != 0"
        assert store._call(lambda db: db.execute(counts).fetchall()) == [("open", 1)]
        meta = "SELECT 1 FROM meta WHERE key='x'"
        assert store._call(lambda db: db.execute(meta).fetchall()) == []
    finally:
        store.close()


async def test_rows_nobody_waits_for_join_a_later_group(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a lazy hand-over well past one loop turn, even a slow one on a loaded machine (at the
    # default 0.1 s a preempted turn let the timer fire before the first check: failed once)
    monkeypatch.setattr(sdex.sqlwriter, "LAZY_HANDOVER", 1.0)
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    jobs0, commits0 = store.stats()["jobs"], store.stats()["commits"]
    handovers0 = store.stats()["handovers"]
    for i in range(3):
        store.add_order_async(_order(i), i + 1, "open", "peer:x", waited=False)
    await asyncio.sleep(0)  # a loop turn: nothing was handed to the thread yet
    assert store.stats()["jobs"] == jobs0

    async def committed(jobs: int) -> None:
        while store.stats()["jobs"] < jobs:  # within LAZY_HANDOVER, together
            await asyncio.sleep(0.01)

    await asyncio.wait_for(committed(jobs0 + 3), 10)
    assert store.stats()["commits"] == commits0 + 1
    assert store.stats()["handovers"] == handovers0 + 1  # three rows, one wake of the thread
    # a row someone waits for goes at the end of the turn, and takes the lazy ones along
    for i in (3, 4):
        store.add_order_async(_order(i), i + 1, "open", "peer:x", waited=False)
    waited = store.add_order_async(_order(5), 6, "open", "api")
    assert waited is not None
    await asyncio.wait_for(waited, 10)
    assert (store.stats()["jobs"], store.stats()["commits"]) == (jobs0 + 6, commits0 + 2)
    assert store.stats()["handovers"] == handovers0 + 2
    assert store.next_seq() == 7
    # a lazy row SQLite refuses is logged by the writer (nobody waits for it), alone
    with caplog.at_level(logging.ERROR, logger="sdex.store"):
        store._writer.insert_async((object(),) * 11, None)  # no column takes an object()
        good = _order(7)
        store.add_order_async(good, 7, "open", "peer:x", waited=False)
        await asyncio.wait_for(committed(jobs0 + 8), 10)

        async def logged() -> None:  # the writer counts the job before it logs the refusal
            while "an order could not be stored" not in caplog.text:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(logged(), 10)
    assert "an order could not be stored" in caplog.text
    assert store.order(good.hash_hex) is not None
    store.close()


async def test_a_failing_job_fails_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN, group_window=0.005)
    a, b = _order(1), _order(2)
    fa = store.add_order_async(a, 1, "open", "api")
    # seq is UNIQUE: b with a's seq is refused by SQLite (INSERT OR IGNORE keeps the first)
    fb = store.add_order_async(b, 1, "open", "api")

    def boom(db: sqlite3.Connection) -> None:
        db.execute("INSERT INTO meta VALUES ('x', 'y')")
        raise ValueError("refused")

    fc = store._writer.submit(boom)
    fd = store.add_order_async(_order(3), 3, "open", "api")
    await asyncio.gather(fa, fb, fd)
    with pytest.raises(StoreError, match="refused"):
        fc.result(timeout=10)
    assert store.order(a.hash_hex) is not None
    assert store.order(b.hash_hex) is None
    assert store.next_seq() == 4
    assert store._call(lambda db: db.execute("SELECT * FROM meta WHERE key='x'").fetchall()) == []
    store.close()


async def test_close_commits_what_is_queued_and_refuses_more(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    futures = [store.add_order_async(_order(i), i + 1, "open", "api") for i in range(100)]
    store.close()
    await asyncio.gather(*futures)
    with pytest.raises(StoreError):
        store.add_order(_order(200), 200, "open", "api")
    reopened = Store(db, IDENTITY, DOMAIN)
    assert reopened.next_seq() == 101
    assert not reopened.rebuilt
    reopened.close()


def test_a_database_of_another_chain_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    store.add_order(_order(1), 1, "open", "api")
    store.close()
    # another Exchange (reset70: the same one on a replaced chain keeps its orders)
    other = ChainIdentity(31337, "0x" + "ef" * 20, "0x" + os.urandom(32).hex())
    store = Store(db, other, DOMAIN)
    assert store.rebuilt and list(store.orders()) == []
    store.close()


async def test_a_waiter_that_gives_up_leaves_the_writer_running(tmp_path: Path) -> None:
    """An awaited write whose waiter is cancelled (a task stopped mid-await) is still
    written, and the writer thread goes on serving the writes queued after it."""
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    held = threading.Event()
    first = store._writer.submit(lambda db: held.wait(60))  # the thread busy on this job
    signed = _order(1)
    fut = store.add_fills_async([])
    fut.cancel()
    await asyncio.sleep(0.01)  # the cancel reaches the writer's future (a loop callback)
    held.set()
    assert first.result(30) is True
    await asyncio.wait_for(asyncio.to_thread(store.add_order, signed, 1, "open", "api"), 30)
    stored = store.order(signed.hash_hex)
    assert stored is not None and stored.status == "open"
    store.close()


def _fill(i: int, **kw: object) -> StoredFill:
    fields: dict[str, object] = {
        "order_hash": bytes([i]) * 32, "maker": "0x" + "01" * 20, "taker": "0x" + "02" * 20,
        "maker_filled": 10**18, "taker_filled": 3000 * 10**6, "fee_recipient": ZERO_ADDRESS,
        "fee": 0, "block_number": 7, "tx_hash": "0x" + f"{i:02x}" * 32, "log_index": i,
    }  # fmt: skip
    fields.update(kw)
    return StoredFill(**fields)  # type: ignore[arg-type]


async def test_a_fill_sqlite_cannot_store_does_not_block_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A fill row SQLite cannot bind (a log index past 2^63, a transaction hash that is not a
    string: a lying endpoint) is dropped and logged; the rest of the job is stored (before:
    the whole job failed, for ever, and the watcher never saved its head again)."""
    store = Store(tmp_path / "f.db", IDENTITY, DOMAIN)
    try:
        good = [_fill(1), _fill(4)]
        bad = [_fill(2, log_index=2**63), _fill(3, tx_hash=["0x" + "03" * 32])]
        with caplog.at_level(logging.ERROR, "sdex.store"):
            stored = await store.add_fills_async([good[0], *bad, good[1]])
        assert stored == good
        assert store.add_fills(good) == []  # (stored once)
        assert sum("cannot store" in r.getMessage() for r in caplog.records) == 2
    finally:
        store.close()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("logIndex", hex(2**63)),
        ("blockNumber", hex(2**64)),
        ("transactionHash", ["0x" + "03" * 32]),
        ("transactionHash", "0x" + "03" * 31),
        ("transactionHash", "0x" + "zz" * 32),
    ],
)
def test_a_log_the_store_could_not_keep_is_not_one(key: str, value: object) -> None:
    raw: dict[str, object] = {
        "address": "0x" + "ab" * 20, "topics": ["0x" + "00" * 32], "data": "0x",
        "blockNumber": "0x7", "transactionHash": "0x" + "03" * 32, "logIndex": "0x1",
    }  # fmt: skip
    assert Log.from_rpc(raw).log_index == 1  # type: ignore[arg-type]
    raw[key] = value
    with pytest.raises(ValueError):
        Log.from_rpc(raw)  # type: ignore[arg-type]


def test_unparseable_rows_are_all_counted_past_the_ones_remembered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``MAX_UNPARSEABLE_NAMED`` remembered hashes, a bad row is still counted (it
    used to stop at that many); one remembered is counted once however often read."""
    monkeypatch.setattr(storeread, "MAX_UNPARSEABLE_NAMED", 2)
    db = tmp_path / "s.db"
    store = Store(db, IDENTITY, DOMAIN)
    try:
        store.add_order(_order(1), 1, "open", "api")
        for i in range(2, 6):
            store.add_order(_order(i), i, "open", "api")
            store._call(
                lambda c, i=i: c.execute("UPDATE orders SET order_json='{' WHERE seq=?", (i,))
            )
        assert len(list(store.orders())) == 1
        assert store.stats()["unparseableRows"] == 4
        assert len(store.unparseable_rows) == 2
    finally:
        store.close()
