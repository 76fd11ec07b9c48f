"""settle65: a node stopped between the adoption of a settlement a previous run left pooled
(``NodeSettlement._adopt``) and the settler's first step: a SIGTERM while the start adopts
the second of two pooled rows (the start's task cancelled as it reads that row's receipt),
before the settler's task exists. Before, the first row's adopted flight was a task of its
own that only the settler's ``run`` cancelled on its way out: never run, it never did, and
the flight outlived the node's stop. Now the settler starts the adopted flights when it
runs: a stop leaves nothing running, both rows stay ``pending``, adopted again at the next
start, where each lands once, its pair filled."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import sdex.node.adoption as adoption
from sdex.node.core import Node
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import FEES, OPERATOR, stored_pair


def _flights() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "adopted settlement"]


async def test_a_stop_before_the_settler_runs_leaves_the_adopted_row_pending(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, store, resting, incoming, data = stored_pair(c, tmp_path)
    carol, dave = c.sign(ask(c, CAROL, E18, 3000 * E6)), c.sign(bid(c, DAVE, E18, 3000 * E6))
    store.add_order(carol, 3, "open", "api")
    store.add_order(dave, 4, "open", "api")
    op, to = c.sender(OPERATOR), c.exchange.address
    first = op.sign(to, data, 400_000, fees=FEES)
    second_data = c.exchange.encode_settlement([(carol, dave, E18)])
    second = op.sign_at(first.nonce + 1, to, second_data, 400_000, fees=FEES)
    for tx, pair in ((first, (resting, incoming)), (second, (carol, dave))):
        pairs = [(pair[0].hash_hex, pair[1].hash_hex)]
        await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    real = adoption.landed
    reads: list[str] = []

    async def stopped_at_the_second(lane: Any, tx_hash: str) -> Any:
        reads.append(tx_hash)
        if len(reads) == 2:  # (SIGTERM: the start's task cancelled as it reads)
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
        return await real(lane, tx_hash)

    c.rpc.call("evm_setAutomine", False)
    try:
        for tx in (first, second):
            c.rpc.call("eth_sendRawTransaction", tx.raw)
        node = Node(cfg)
        await node.prepare()
        with monkeypatch.context() as m:
            m.setattr(adoption, "landed", stopped_at_the_second)
            loading = asyncio.create_task(node.load())
            await asyncio.wait([loading], timeout=30.0)
        assert loading.cancelled() and node.settler.adopted == 1
        await node.stop()
        assert [t for t in _flights() if not t.done()] == []  # (before: its flight ran on)
        assert await rows_of(cfg.db) == {first.tx_hash: "pending", second.tx_hash: "pending"}
        async with running_node(cfg) as (again, api):  # (the next start adopts both)
            assert again.settler.adopted == 2

            async def filled() -> bool:
                c.rpc.call("evm_mine")
                orders = (resting, incoming, carol, dave)
                statuses = {await api.status(so) for so in orders}
                return statuses == {"filled"} and again.settler.idle.is_set()

            await wait_for(filled)
            assert again.settler.settled == 2 and again.settler.sent == 0
    finally:
        c.rpc.call("evm_setAutomine", True)
    assert c.exchange.order_info(resting.order).filled == E18
    assert c.exchange.order_info(carol.order).filled == E18
    assert await rows_of(cfg.db) == {first.tx_hash: "mined", second.tx_hash: "mined"}


async def rows_of(db: Path) -> dict[str, str]:
    """The settlements' rows' statuses by transaction hash (read once the node stopped)."""
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
