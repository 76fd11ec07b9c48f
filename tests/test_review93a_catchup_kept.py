"""review93a: a trade the start's catch-up credits (peers93: the kept standings restored
before it) is written to ``peer_standings`` within ``KEEP_TRADED_SECONDS``, as any trade
credited is (``readbudget.keep_standings``).

Before, ``keep_standings`` began counting from the credits made when it started, after the
catch-up: the catch-up's were written only at the next ``KEEP_STANDINGS_SECONDS`` (60 s),
and a kill within that lost them for good (the head saved past their block, the next start
reads it no more): the peer ranked behind sybils till its next trade.

A real node on a real Hardhat and its SQLite store (``test_peers93_stored_pusher``'s set-up:
the watcher held below the settlement's block, the node stopped there and started again)."""

from __future__ import annotations

from pathlib import Path

from sdex.gossip.standings import MAX_DELIVERED, TRADED_SECONDS, Standing, restored, rows_kept
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST
from tests.test_mirror import synced
from tests.test_peers93_stored_pusher import held_trade, paying_pair
from tests.test_sybil78_traded_first import charging


async def traded_kept(node: Node, key: str) -> bool:
    """Whether ``key``'s stored standing says it traded within ``TRADED_SECONDS``."""
    rows = await node.store.standing_rows(MAX_DELIVERED)
    return any(r[0] == key and r[4] < TRADED_SECONDS for r in rows)


async def test_a_trade_the_catch_up_credits_is_kept_within_seconds(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    sell, buy = paying_pair(c)
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        held = await held_trade(c, node, api, sell, buy)
        assert node.watcher.applied is not None
        assert node.watcher.applied.number < held.block
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await synced(node, c)  # (the trade's block applied by the start's catch-up)
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 30)
        # within KEEP_TRADED_SECONDS (2 s), bound generous; before: KEEP_STANDINGS_SECONDS
        await wait_for(lambda: traded_kept(node, HONEST), 30)


def test_a_trade_above_the_saved_head_is_not_kept_as_the_restored_floor() -> None:
    """A trade credited in block 8 while the head saved is 7 (its fills not durable yet) and
    the standings written then (within ``KEEP_TRADED_SECONDS``), the node killed: the next
    start restores the standing as at most block 7 (``below``) and its catch-up credits
    block 8 again; a reorg of block 8 then must leave no trade. Before, the row kept block
    8's trade as the restored floor (``traded_at``), taken for a trade at or below 7: the
    reorg took the catch-up's credit back and the floor stood, the peer ranked as traded
    for the hour on a trade the chain no longer has."""
    s = Standing(delivered=1, delivered_at=90.0, active_at=90.0)  # (a relay's)
    s.credit(8, 100.0)
    ((_key, delivered, credited, active, traded_ago),) = rows_kept([("a", s)], 100.0, 1, saved=7)
    back = restored(delivered, credited, active, traded_ago, 200.0, below=7)
    back.credit(8, 201.0)  # (the catch-up's)
    assert back.uncredit({8})
    assert 201.0 - back.traded_at > TRADED_SECONDS  # (before: 100.0, block 8's trade kept)
    kept = rows_kept([("a", s)], 100.0, 1, saved=8)  # (once the head is saved past it)
    assert kept[0][4] == 0.0
