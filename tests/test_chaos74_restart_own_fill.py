"""chaos74: a node's own fill of a one-shot order, stored from its receipt before a kill that
left the order's row and the mirror's head unwritten, counts in that order at the restart.

Found by ``bench/chaos52.py --seeds 24`` with every fault mix (``/tmp/chaos52-24-xq8wli1d``,
node 2): mining paused, an IOC matched two bids, its settlement pooled; mining resumed, the
node applied the receipt (the settlement ``mined``, its fills stored: committed) and was
SIGKILLed 40 ms later, before the IOC's close and the block's head were written. At the
restart the IOC came back open, was closed from the saved mirror below that block
("ioc: not resting after restart", 0 filled), and the catch-up's fill of it, the node's own
and stored already, counted nowhere: the node said ``removed``, 0 filled, for good; the
chain 0.3 WETH (``state_mismatch``; ``sdex audit``: ``fill_after_node_closed`` against the
node's own settlement). chaos63 counted such a fill only for a settlement still ``pending``
at the restart; now the node's own settlements with fills stored above the saved head count
the same way (``Reconcile.run``).

The kill's state, deterministically: the node's watcher task is stopped before the match (its
saved head stays below the settlement's block) and a real SQLite trigger refuses every update
of the IOC's row (its close, as the kill lost it; each job is its own savepoint: the fills
and the settlement's row commit). Real Hardhat, a real node, SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_api_writes import refuse
from tests.test_chaos52_given_up import counts
from tests.test_mirror import meta, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_an_own_fill_stored_before_a_kill_counts_in_its_ioc(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    resting = c.sign(ask(c, ALICE, E18 // 2, 500 * E6))  # 0.5 WETH at 1000
    low = c.sign(bid(c, BOB, E18 // 10, 50 * E6))  # BOB's at 500: rests, crosses nothing
    ioc = c.sign(bid(c, BOB, E18, 1000 * E6))  # 1 WETH at 1000: half of it trades
    ioc_hex = ioc.hash_hex.lower()
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        assert (await api.post_taken(low))[0] == 201
        c.rpc.call("evm_mine")  # a block saved with both makers' funds in the mirror: the
        await synced(node, c)  # restart judges its orders from it, no chain read
        watcher = next(t for t in node._tasks if t.get_name() == "watcher")
        watcher.cancel()  # (its head is saved no more: as a kill before the next block's)
        await asyncio.wait({watcher}, timeout=10)
        await refuse(
            node,
            f"CREATE TRIGGER no_close BEFORE UPDATE ON orders WHEN OLD.hash = '{ioc_hex}'"
            " BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        code, body = await api.post_taken(ioc, "ioc")
        assert code == 201 and body["matches"], body

        def stored() -> bool:  # the settler applied the receipt: its fill committed
            with sqlite3.connect(f"file:{cfg.db}?mode=ro", uri=True) as db:
                n = db.execute(
                    "SELECT COUNT(*) FROM fills WHERE order_hash = ? AND ours = 1", (ioc_hex,)
                ).fetchone()[0]
            return bool(n)

        await wait_for(stored, timeout=30)
    assert c.exchange.order_info(ioc.order).filled == 500 * E6
    with sqlite3.connect(cfg.db) as db:  # (the kill's row: as accepted, open, 0 filled)
        row = db.execute("SELECT status, filled FROM orders WHERE hash = ?", (ioc_hex,))
        assert row.fetchone() == ("open", "0")
        db.execute("DROP TRIGGER no_close")
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        await counts(api, ioc, 500 * E6)  # before: "0" for good
        m = await meta(api, ioc)
        assert m["status"] == "removed" and "partly filled" in m["reason"], m
