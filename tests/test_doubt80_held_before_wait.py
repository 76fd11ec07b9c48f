"""doubt80: a start's doubt counts toward an adopted row's ``HELD_SEND_MAX``.

adopt79 bounded how long a doubt may hold a settlement's wait and its bytes still be sent
again (``HELD_SEND_MAX``: past it, its cancel instead; ``NonceLane._keep_alive``). A row a
restart in doubt left unsent and adopted had only its wait's own held checks counted: a
doubt that stood through the rest of the start (a long catch-up), ending as the wait began,
counted nothing, and bytes the chain had dropped meanwhile were sent again as it ended,
their matches as old as the doubt. Now the hold counts from when the start left the row
unsent (``NonceLane._held_before``). Real chain of the suite's engine, its mining on the
send turned off (the first run's settlement pools), a real ``sdex node`` process killed by
its PID, the restart in this process behind ``flapping_proxy`` (the saved head's block
answered with another hash once: in doubt at the start), the pooled bytes dropped from the
chain's pool while the node was down."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from sdex.chainnode import Engine
from sdex.settlement import lane
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import flapping_proxy
from tests.test_held79_doubt_settlements import BOUND, mine_pool
from tests.test_node import E18
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import pending_rows, pooled_and_killed, pooling
from tests.test_review74a_flapped_head import _saved_head

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)


async def test_a_starts_doubt_counts_toward_an_adopted_rows_bound(
    pooling: Chain, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run's settlement pooled, the node killed, its bytes dropped from the pool;
    the restart is in doubt, and its steps after reconcile take past the bound (held here
    as a long catch-up would); the doubt ends as the row's wait begins. Its wait does not
    send its bytes again: its cancel takes the nonce, its match fails counted against
    neither order, and its orders settle in a new settlement (before: its bytes sent again
    as the doubt ended and mined, the row's match settled: failed 3 of 3)."""
    monkeypatch.setattr(lane, "HELD_SEND_MAX", BOUND)
    c = pooling
    db = tmp_path / "n.db"
    maker, _ = await pooled_and_killed(c, db, None)
    (row,) = pending_rows(db)
    dropper = "anvil_dropTransaction" if engine == "anvil" else "hardhat_dropTransaction"
    c.rpc.call(dropper, row)
    assert c.rpc.call("eth_getTransactionByHash", row) is None  # (the chain knows it no more)
    head = _saved_head(db)
    real = core.reconcile

    async def slow_start(lane: Any) -> Any:  # (then past the bound: a long catch-up)
        pooled = await real(lane)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await wait_for(lambda: loop.time() > began + BOUND + 1.0, 30)
        return pooled

    monkeypatch.setattr(core, "reconcile", slow_start)
    with flapping_proxy(c.rpc.url, head, "0x" + "ef" * 32) as (url, flapped):
        cfg = replace(node_config(c, db, operator=OPERATOR), rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            assert flapped == [1] and s.adopted == 1  # (in doubt at the start: adopted)

            def sent() -> bool:  # (its cancel; before: its bytes again)
                known = c.rpc.call("eth_getTransactionByHash", row) is not None
                return node.mirror.doubt.held == "" and (s.cancelled == 1 or known)

            await wait_for(sent, timeout=60)
            mine_pool(c)

            async def filled() -> bool:
                return await api.status(maker) == "filled" and s.idle.is_set()

            await wait_for(filled, timeout=60)
            # (withheld, cancelled: counted there alone, not lost too: settle90)
            assert s.cancelled == 1 and s.withheld_cancels == 1, (s.cancelled, s.withheld_cancels)
            assert s.lost == 0, s.lost
            assert s.sent == 1  # (its orders settled again: the cancel took the nonce)
    assert c.rpc.call("eth_getTransactionReceipt", row) is None
    assert c.exchange.order_info(maker.order).filled == E18
