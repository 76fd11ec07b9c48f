"""reset79: a reset's re-walk of the stored closed orders reopens those the new chain holds
fillable, each a record and a book entry kept in memory from then on. They stayed in the
collector's generations, and every generation-1 collection amid the walk walked what the walk
had kept so far: at 50,000 reopened orders, pauses of 70-390 ms of the event loop (nothing
answered meanwhile: ``/health`` 0.2-0.4 s, bench/reset79_walk_stalls.py). Now the walk
freezes what it kept a page at a time (``sdex.node.gcfreeze.freeze_kept``), as the start
freezes the orders it loads. Real Hardhat, a real node and SQLite store."""

from __future__ import annotations

import gc
import sqlite3
from pathlib import Path

from sdex.node.main import serve
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, wait_for
from tests.test_gc_freeze import tracked_ids
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def closed_filled(c: Chain, db: Path, orders: int) -> list[bytes]:
    """``orders`` orders stored closed ``filled``, which the chain never filled, and the
    store's reset walk due (``rejudge_due``), as a reset a kill interrupted leaves them."""
    cfg = node_config(c, db)
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    hashes = []
    for i in range(orders):
        maker, side, price = (ALICE, ask, 3000 + i) if i % 2 == 0 else (BOB, bid, 2000 - i)
        signed = c.sign(side(c, maker, E18, price * E6, salt=7900 + i))
        store.add_order(signed, i + 1, "filled", "api")
        hashes.append(signed.hash)
    store.close()
    conn = sqlite3.connect(db)
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('rejudge_due', '1')")
    conn.commit()
    conn.close()
    return hashes


async def test_the_orders_a_reset_walk_reopens_leave_the_collectors_generations(
    chain: Chain, tmp_path: Path
) -> None:
    hashes = closed_filled(chain, tmp_path / "n.db", 8)
    cfg = node_config(chain, tmp_path / "n.db")
    async with serve(cfg) as node:
        await wait_for(lambda: not node.rejudging and not node.store.rejudge_due, timeout=60)
        records = [node.registry.records.get(h) for h in hashes]
        assert all(r is not None and r.status.is_open for r in records), records
        walked = tracked_ids()
        kept = [r for r in records if id(r) in walked or id(r.json) in walked]
        assert not kept, (
            f"{len(kept)} of {len(records)} reopened records walked by every collection"
        )
        assert gc.get_freeze_count() > 0
