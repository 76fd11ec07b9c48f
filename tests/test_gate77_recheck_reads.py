"""gate77: a start reads the orders a kill left due a recheck together, not one by one.

recheck75 keeps the orders due a recheck in the store (``rechecks``) and a start judges them
again (``NodeVerdicts._recheck_stored``): each one closed and not in memory was read back by
its own point read (``order_now``) on the event loop, up to ``RECHECKS_READ`` (100,000) of
them. Now they are read together off the loop (``Store.orders_of``: ``IN_CHUNK`` hashes a
statement, in a worker thread). Real Hardhat, a real node and SQLite store; the reads on the
loop's reader connection counted by SQLite's own trace."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, E6, E18, ask

DUE = 300


def closed_due(db_path: Path, chain: Chain) -> list[str]:
    """``DUE`` real signed asks stored closed by their maker's soft cancel, each due a
    recheck (a kill's leftovers); their hashes."""
    signed = [chain.sign(ask(chain, ALICE, E18, (3000 + i) * E6)) for i in range(DUE)]
    db = sqlite3.connect(db_path)
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM orders").fetchone()[0]
    cols = "hash, seq, maker, maker_token, taker_token, order_json, status, reason, filled,"
    cols += " source, created_at, updated_at, taker"
    rows = []
    for s in signed:
        seq += 1
        o = s.order
        text = json.dumps(s.to_json(), separators=(",", ":"))
        rows.append((s.hash_hex.lower(), seq, o.maker, o.maker_token, o.taker_token, text,
                     "cancelled", "soft cancel by the maker", "0", "api", 1.0, 1.0,
                     o.taker.lower()))  # fmt: skip
    db.executemany(f"INSERT INTO orders ({cols}) VALUES ({','.join('?' * 13)})", rows)
    db.executemany("INSERT INTO rechecks (order_hash) VALUES (?)", [(r[0],) for r in rows])
    db.commit()
    db.close()
    return [s.hash_hex.lower() for s in signed]


async def test_a_start_reads_its_rechecks_together(chain: Chain, tmp_path: Path) -> None:
    cfg = node_config(chain, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (the store made: its schema and identity)
    hashes = closed_due(cfg.db, chain)
    node = Node(cfg)
    await node.prepare()
    point_reads: list[str] = []
    reader = node.store._reader
    assert reader is not None
    reader.set_trace_callback(lambda sql: point_reads.append(sql) if "hash=" in sql else None)
    try:
        await node.load()
        for h in hashes[:5] + hashes[-5:]:  # held again, judged (a soft cancel stays)
            rec = node.records.get(bytes.fromhex(h[2:]))
            assert rec is not None and rec.status.value == "cancelled", h
        assert len(point_reads) < 10, (len(point_reads), point_reads[:3])
    finally:
        reader.set_trace_callback(None)
        await node.stop()
