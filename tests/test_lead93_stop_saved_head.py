"""A stop keeps a trade's standing when its block's head save was cancelled after its write
was queued.

``Node.stop`` cancels the watcher's task; a head save (``StoreChain.save_mirror``) already
running on the writer commits all the same, and ``Watcher.saved`` stays below the stored
head. The stop's ``save_standings`` keeps only the trades at or below the head it is given
(review93a), and the restart's catch-up begins past the stored head: given
``Watcher.saved``, the trade's credit was lost (``test_review92_restored_credit_reorg``
failed so once under load: the restored standing ``traded=0``). The stop now reads the
stored head back (``Node._saved_head``).

A real node on a real Hardhat and its SQLite store; the cancelled save's aftermath is set
up by lowering ``Watcher.saved`` below the trade's block before the stop."""

from __future__ import annotations

import time
from pathlib import Path

from sdex.gossip.standings import TRADED_SECONDS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_checks75_held_reads import HONEST, rested
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_sybil78_traded_first import charging, fee_of


async def test_a_trade_credited_before_a_stop_is_kept_when_the_saved_head_lags(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = charging(c, node_config(c, tmp_path / "n.db"))
    async with running_node(cfg) as (node, api):
        g = node.gossip
        assert g is not None
        await synced(node, c)
        await rested(g, c.sign(ask(c, ALICE, E18, 3100 * E6)))
        await api.post_matched(c.sign(bid(c, BOB, E18, 3100 * E6, **fee_of(c, E18))))
        await wait_for(lambda: g.peers.standing(HONEST).traded == 1, 60)
        await synced(node, c)  # (the trade's block applied and its head saved)
        stored = node.store.checkpoint()
        assert stored is not None and node.watcher.saved == stored[0]
        traded = g.peers.traded_block
        assert 0 < traded <= stored[0]
        node.watcher.saved = traded - 1  # (as a head save cancelled after its write queued)
    async with running_node(cfg) as (node, api):  # (the standings read back from the store)
        g = node.gossip
        assert g is not None
        # (restored before its catch-up, which begins past the trade's block: none again)
        kept = g.peers.standing(HONEST)
        assert time.monotonic() - kept.traded_at <= TRADED_SECONDS, kept  # (main: lost)
