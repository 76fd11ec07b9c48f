"""review96c: a fetched cancel whose writes the store refused (its proof and its closed row)
is taken again by ``FetchedCancels`` (gossip93) and that repeat writes the closed row too
(review95's ``soft_cancel``): once stored, it is not taken again, the counts say one failure
and one retry (``/health`` and ``/metrics`` alike), and a restart serves the order cancelled.

Real Hardhat (the suite's chain); node B a real node served in-process on loopback, its
SQLite store refusing both of the cancel's writes (review95's trigger) while the cancel comes;
node A an in-process gossip node on loopback (``tests.p2putil``) answering B's ``why`` with
Alice's signed cancel. A second trigger counts the closed row's writes that committed."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import replace
from pathlib import Path

from sdex.gossip import GossipConfig
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of, wait_for
from tests.p2putil import serve_gossip
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_cancel90_cancel_reaches_every_node import stored_row
from tests.test_gossip93_fetched_cancel_stored import Proofs
from tests.test_node import ALICE, E6, E18, ask
from tests.test_review95_peer_cancel_repeat_row import REFUSE

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
COUNT = (
    "CREATE TABLE closes(at INTEGER);"
    " CREATE TRIGGER count_close AFTER UPDATE ON orders WHEN NEW.status = 'cancelled'"
    " AND OLD.status != 'cancelled' BEGIN INSERT INTO closes VALUES (1); END"
)
"""Each committed write that closes the row (open to cancelled) counted."""


def closes(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute("SELECT count(*) FROM closes").fetchone()[0])


def metric(text: str, name: str) -> float:
    return sum(float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith(name + " "))


async def test_a_fetched_cancel_refused_whole_is_stored_once_and_holds_across_a_restart(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "b.db"
    fast = GossipConfig(dial_interval=0.1, ae_interval=0.2)
    async with running_node(node_config(c, db, gossip=fast)) as (node, api):
        assert node.gossip is not None
        withdrawn: SignedOrder = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await api.post_taken(withdrawn))[0] == 201
        notice = notice_of(c, withdrawn, c.keys[ALICE])
        Proofs.proofs = {withdrawn.hash_hex.lower(): notice}
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            conn.executescript(COUNT)
            conn.execute(REFUSE)
            peer = await serve_gossip(replace(fast, ae_interval=1e6), [url_of(node)], make=Proofs)
            try:
                await peer.gossip.start()
                fetched = node.gossip.fetched

                async def refused() -> bool:
                    return await status_at(api, withdrawn) == "cancelled" and fetched.unstored >= 1

                await wait_for(refused, timeout=BOUND)
                assert stored_row(db, withdrawn) == ("open", "")  # (both writes refused)
            finally:
                await peer.runner.shutdown()
                await peer.gossip.stop()
                await peer.runner.cleanup()
            conn.execute("DROP TRIGGER no_cancel")
        finally:
            conn.close()
        want = ("cancelled", notice["signature"])

        async def stored() -> bool:
            return await asyncio.to_thread(stored_row, db, withdrawn) == want

        await wait_for(stored, timeout=BOUND)  # (the retry: the proof and the closed row)

        async def settled() -> bool:
            return withdrawn.hash_hex.lower() not in node.gossip.fetched._pending  # type: ignore[union-attr]

        await wait_for(settled, timeout=BOUND)
        fetched = node.gossip.fetched
        unstored, retried = fetched.unstored, fetched.retried
        assert retried == unstored >= 1, (unstored, retried)  # (each failure one retry)
        await asyncio.sleep(3.0)  # (no condition: that no later retry comes once stored)
        assert (fetched.unstored, fetched.retried) == (unstored, retried)
        assert closes(db) == 1
        _, health = await api.get("/health")
        g = health["gossip"]
        assert (g["fetchedCancelsUnstored"], g["fetchedCancelsRetried"]) == (unstored, retried)
        async with api.session.get(api.base + "/metrics") as r:
            text = await r.text()
        assert metric(text, "sdex_gossip_fetched_cancels_unstored_total") == unstored, text
        assert metric(text, "sdex_gossip_fetched_cancels_retried_total") == retried
        assert metric(text, "sdex_gossip_cancels_unasked_total") == 0
    async with running_node(node_config(c, db)) as (_node, api):  # (the restart)
        assert await status_at(api, withdrawn) == "cancelled"
    assert closes(db) == 1
