"""review99: a read of a mined batch's gas held by its backend (gas97: ``BatchTx._learn_gas``,
a task of its own) when the node stops is cancelled and awaited by the settler's stop
(``Settler.run``): none left pending (no "Task was destroyed but it is pending", no
coroutine never awaited), nothing learned. A guard: passed before.

Real Hardhat (automine), a real node and SQLite store behind gas97's real loopback proxy that
holds each ``eth_getBlockByHash`` of a header alone once the settlement was believed."""

from __future__ import annotations

import gc
import logging
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_gas97_gas_read_off_the_result import holding_proxy
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all


async def test_a_held_gas_read_is_cancelled_at_the_stop(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    caplog.set_level(logging.ERROR, logger="asyncio")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        async with holding_proxy(c.rpc.url) as p:
            db = tmp_path / "n.db"
            cfg = replace(node_config(c, db, max_batch=8, backlog_batch=24), rpc=p.url)
            async with running_node(cfg) as (node, api):
                settler = node.settler
                asks = [c.sign(ask(c, CAROL, E18 // 10, 300 * E6)) for _ in range(20)]
                await post_all(api, asks)
                p.when = lambda: settler.sent >= 1 and not settler.in_flight
                taker = c.sign(bid(c, DAVE, 2 * E18, 20 * 300 * E6))
                assert (await api.post_order(taker))[0] == 201
                await wait_for(lambda: bool(p.held) and bool(settler._gas_reads), timeout=60)
                reads = set(settler._gas_reads)
                assert not settler.idle.is_set()  # (a gas read under way: not idle)
            # (the node stopped while the read was held)
            assert reads and all(t.done() and t.cancelled() for t in reads), reads
            assert settler.gas.seen == 0 and not p.release.is_set()
        gc.collect()
    destroyed = [r.getMessage() for r in caplog.records if "destroyed" in r.getMessage()]
    assert not destroyed, destroyed
    unawaited = [str(w.message) for w in said if "never awaited" in str(w.message)]
    assert not unawaited, unawaited
