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

import asyncio
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import flapping_proxy
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_review66_adopt_landed import OPERATOR
from tests.test_review74a_flapped_head import _saved_head
from tests.test_review85_held_cancel_pooled import FEES, gated_reads_proxy


async def test_a_stop_during_the_hold_leaves_the_pooled_row_to_the_next_start(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    first = c.sign(ask(c, CAROL, E18, 9000 * E6, salt=8521))  # (a first run: a head saved)
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(first))[0] == 201
    head = _saved_head(cfg.db)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6, salt=8522))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6, salt=8523))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1001, "open", "api")
    store.add_order(incoming, 1002, "open", "api")
    data = c.exchange.encode_settlement([(resting, incoming, E18)])
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    selector = "0x" + c.exchange.encode_order_states([resting])[:4].hex()
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (pooled: the last run's)
        with (
            gated_reads_proxy(c.rpc.url, selector) as (surl, _gate),
            flapping_proxy(surl, head, "0x" + "ee" * 32, at=2) as (inner, second),
            flapping_proxy(inner, head, "0x" + "ef" * 32) as (url, flapped),
        ):
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                assert flapped == [1] and second == [1]
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
    finally:
        c.rpc.call("evm_setAutomine", True)
        c.rpc.call("evm_mine")
    with sqlite3.connect(cfg.db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows[tx.tx_hash] == "mined", rows
