"""peers79: a trade credited to a peer (``Peers.traded``: an hour ranked first) is in the
node's SQLite within seconds, not at the next 60 s save (``readbudget.keep_standings``): a
kill within them lost it, and the honest peer ranked behind sybils that came first until its
next trade.

A real node on a real Hardhat: the honest peer's pushed ask taken by a wallet's bid that
pays the node's fee (``charging``; peers80), matched and settled by the node; its
``peer_standings`` read from the database file while the node runs (what a SIGKILL would
leave)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sdex.gossip.standings import TRADED_SECONDS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST, rested
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sybil78_traded_first import charging, fee_of


def kept_traded(db: Path, key: str) -> bool:
    """Whether ``db``'s kept standings say ``key``'s order traded within the hour."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
        try:
            rows = conn.execute(
                "SELECT traded_ago FROM peer_standings WHERE peer = ?", (key.lower(),)
            ).fetchall()
        except sqlite3.OperationalError:  # (no table yet: nothing kept)
            return False
    return any(r[0] < TRADED_SECONDS for r in rows)


async def test_a_credited_trade_is_kept_within_seconds(chain: Chain, tmp_path: Path) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with running_node(charging(c, node_config(c, db))) as (node, api):
        g = node.gossip
        assert g is not None
        await rested(g, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        await api.post_matched(c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18))))
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
        await wait_for(lambda: kept_traded(db, HONEST), 15)  # (before: at the 60 s save)
