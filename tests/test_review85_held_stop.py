"""review85: a stop during a start's hold (doubt83) leaves what the last run left pooled
pending for the next start (doubt83's leftover): checked, not a defect.

The held start adopts the pooled rows only once its orders are read (``_judge_held``); a stop
before that cancels the task with the rows still ``pending`` in the store and nothing signed
(the settler never ran). The next start, out of the doubt, reconciles them again and adopts
the row: it lands once, its orders filled by it alone, nothing reverted. Real chain of the
suite's engine (mining paused: the row pooled), a real node on its SQLite store started
behind real loopback proxies (a doubt at the start; reads by hash and the orders' reads
refused), stopped while held, and started again on the chain itself."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.heldstart import first_run, held_reads, left_row, mining_paused, states_selector
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import E6
from tests.test_review66_adopt_landed import OPERATOR

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)


async def test_a_stop_during_the_hold_leaves_the_pooled_row_to_the_next_start(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    head = await first_run(c, cfg, 8521)
    resting, incoming, tx = await left_row(c, cfg, 1, 8522)  # (the whole of each)
    with mining_paused(c):
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (pooled: the last run's)
        with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, _gate, doubts):
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                assert doubts == ([1], [1])
                assert node.held_why() and node.settler.sent == 0
                assert await api.status(resting) == "open"
            # (stopped while held)
        with sqlite3.connect(cfg.db) as conn:
            rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
        assert rows[tx.tx_hash] == "pending", rows
        async with running_node(cfg) as (node, api):
            s = node.settler
            assert not node.held_why() and s.adopted == 1, (s.adopted, node.held_why())

            async def settled() -> bool:
                c.rpc.call("evm_mine")
                return (
                    s.idle.is_set() and not s.in_flight and await api.status(incoming) == "filled"
                )

            await wait_for(settled, timeout=60)
            assert s.failed == 0 and s.sent == 0, (s.failed, s.sent)
            assert await api.status(resting) == "filled"
            assert c.exchange.order_info(incoming.order).filled == 3000 * E6
    with sqlite3.connect(cfg.db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows[tx.tx_hash] == "mined", rows
