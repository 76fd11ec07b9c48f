"""small94: a trade's credit (``Peers.traded``) given in ``NodeChainState._apply_block``
before its awaits: a block the watcher applied again (an await raised, or a write the block
queued was refused: its fills applied again, ``BlockChanges.fills_only``) credited its trade
again, the peer's ``traded`` counted twice. Now a peer is credited once a block
(``Standing.credit``; a reorg's block takes its credit back first). And ``_paid_sources``'
store read of an evicted order's row (peers93): a SQLite error there raised out of the
block's application, applied again (and failing) at each try while the store refused; now
that trade's credit is skipped, logged, and the block applied.

A real node on a real Hardhat and its SQLite store: a real trigger refusing the fills' rows
once (the watcher's, of a direct ``fillOrder`` on the chain), and the node's real reader
connection refusing a read of the orders once (a SQLite authorizer) as the watcher applies
a trade whose orders were evicted."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import forgotten
from tests.test_checks75_held_reads import HONEST, rested
from tests.test_node import CAROL, DAVE, E6, E18, bid
from tests.test_peers93_stored_pusher import fills_stored, held_trade, paying_pair
from tests.test_sybil78_traded_first import OPERATOR, charging, fee_of

NO_FILLS = (
    "CREATE TRIGGER no_fills BEFORE INSERT ON fills BEGIN SELECT RAISE(ABORT, 'refused'); END"
)


def refusing_once() -> Callable[..., int]:
    """A SQLite authorizer refusing the next read of the ``orders`` table (its statement's
    preparation), then allowing each: a store error once, as a busy or failing disk gives."""
    refused: list[str] = []

    def authorize(action: int, table: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and table == "orders" and not refused:
            refused.append(table)
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return authorize


async def on_writer(node: Node, sql: str) -> None:
    await asyncio.wrap_future(node.store._writer.submit(lambda db: db.execute(sql)))


async def test_a_block_applied_again_after_a_refused_write_credits_once(
    chain: Chain, tmp_path: Path
) -> None:
    """HONEST pushes DAVE's bid paying this node's fee; CAROL fills it on the chain; the
    watcher's row of that fill refused (the block's fills applied again): credited once
    (before: 2 or more, once a try)."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db", OPERATOR))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        paying = c.sign(bid(c, DAVE, E18, 3100 * E6, **fee_of(c, E18)))
        await rested(g, paying)
        await on_writer(node, NO_FILLS)
        filled = c.exchange.fill_order(c.sender(CAROL), paying, E18 // 10)
        assert filled.status == 1
        await wait_for(lambda: g.peers.standing(HONEST).traded >= 1, 60)
        await wait_for(lambda: node.watcher.status == "failing", 60)  # (the row refused)
        await on_writer(node, "DROP TRIGGER no_fills")
        await fills_stored(api, 1)
        await wait_for(lambda: node.watcher.saved >= filled.block_number, 60)
        assert g.peers.standing(HONEST).traded == 1  # (before: 2 or more)


async def test_a_store_error_reading_an_evicted_orders_row_does_not_fail_the_block(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """peers93's evicted-orders trade, the node's reader connection refusing its first read
    of the orders as the watcher applies it: the block applied (its head saved past it), the
    credit skipped and logged (before: the block's application failed, tried again; while
    the store refused, at each try, for good)."""
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    sell, buy = paying_pair(c)
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await wait_for(lambda: node.watcher.applied is not None, 60)
        held = await held_trade(c, node, api, sell, buy)
        node.registry.grace = 0.0
        await forgotten(node, sell)
        await forgotten(node, buy)
        top = int(c.rpc.call("eth_blockNumber"), 16)
        reader = node.store._reader
        assert isinstance(reader, sqlite3.Connection)
        reader.set_authorizer(refusing_once())  # (its next read of the orders refused)
        try:
            with caplog.at_level(logging.WARNING, logger="sdex.node"):
                held.release()
                await wait_for(lambda: node.watcher.saved >= top, 60)  # (before: stuck)
        finally:
            reader.set_authorizer(None)
        assert "credit skipped" in caplog.text, caplog.text
        assert g.peers.standing(HONEST).traded == 0
