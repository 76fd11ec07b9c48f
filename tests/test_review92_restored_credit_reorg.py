"""review92: a trade's standing kept across a restart (stand89: ``peer_standings.traded_at``,
``Peers.restore``) is taken back by a reorg that undoes the trade after the restart, as it is
without one (peers79: ``readbudget.uncredit_trades``, ``Standing.uncredit``).

The rows kept only the last trade's age: the restored ``Standing`` had no credits by block,
so ``uncredit`` found none to take back, and the peer kept its standing in the intake's
forgiveness (``Peers.has_traded``) and its first rank (``leading``) for the rest of the hour
on a trade the chain no longer has.

A real node on a real Hardhat and its SQLite store, stopped and started again on it between
the trade (the honest peer's pushed ask taken by a wallet's bid paying the node's fee,
``charging``) and the reorg that undoes it (``reorgutil.reorged``, onto a longer branch)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sdex.gossip.standings import TRADED_SECONDS, restored
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import reorged
from tests.test_checks75_held_reads import HONEST, rested
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sybil78_traded_first import charging, fee_of


async def test_a_trade_undone_after_a_restart_takes_its_kept_standing_back(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await rested(g, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        snap = c.rpc.call("evm_snapshot")
        # (IOC: undone, the bid is removed, not reopened; flake95: a GTC bid was matched
        # again with the reopened ask after the reorg, and under load that new trade was
        # mined and read before the fills were, block 86 of the new branch)
        taker = c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18)))
        await api.post_matched(taker, tif="ioc")
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
    async with running_node(cfg) as (node, api):  # (the standings read back from the store)
        g = node.gossip
        assert g is not None
        kept = g.peers.standing(HONEST)
        assert time.monotonic() - kept.traded_at <= TRADED_SECONDS  # (stand89: kept)
        await reorged(c, node, snap)  # (the trade's block undone: its fill reverted)
        _, fills = await api.get("/v1/fills")
        assert fills["records"] == [], fills  # (the node took the fill back)

        def withdrawn() -> bool:
            return time.monotonic() - g.peers.standing(HONEST).traded_at > TRADED_SECONDS

        await wait_for(withdrawn, 30)  # (main: kept for the rest of the hour)


@pytest.mark.parametrize(
    ("after", "undone", "traded_at"),
    [
        ([], {7}, float("-inf")),  # (the restored trade's block undone: taken back)
        ([9], {9}, 5.0),  # (a trade after the restart undone: the restored one stands)
        ([9], {7, 9}, float("-inf")),  # (both)
        ([9], {7}, 9.0),  # (the restored one undone, the later one stands)
    ],
)
def test_a_restored_standing_is_taken_back_by_an_undone_trade_it_has_no_block_of(
    after: list[int], undone: set[int], traded_at: float
) -> None:
    """A standing restored with its last trade at clock time 5 (in block 7, not kept), then
    credits at clock time = block number; a reorg undoes ``undone`` (trades credited to it:
    ``readbudget.uncredit_trades`` is given those that paid this node only)."""
    s = restored(1, 0.0, 0.0, 0.0, 5.0)
    for b in after:
        s.credit(b, float(b))
    assert s.uncredit(undone)
    assert s.traded_at == traded_at
