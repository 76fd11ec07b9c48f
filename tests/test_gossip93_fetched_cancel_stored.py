"""gossip93: a cancel anti-entropy fetched is stored as a pushed one is: its commit waited
for, a failure counted, and the same cancel taken again till it is stored.

A pushed cancel's sender hears the receiver's 503 "not stored" and sends it again; one
anti-entropy fetched (``POST /p2p/fetch``'s ``why``) was taken with its result dropped. A
store that refused its writes left the order cancelled in memory and its row without the
cancel: no later round fetched the cancel again (the books agree). The registry's eviction
writes a closed row that differs from its record again (review71), proof included; a row
whose close committed and whose proof was refused does not differ there (status, filled,
reason), and the proof was lost. Real Hardhat (the suite's chain); node B a real node served
in-process on loopback, its SQLite store refusing the cancel's proof (a real trigger) while
the cancel comes; node A an in-process gossip node on loopback (``tests.p2putil``: the real
driver and routes) that holds no open order and answers B's ``why`` with Alice's signed cancel."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from sdex.gossip import GossipConfig
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, url_of, wait_for
from tests.p2putil import MemoryNode, serve_gossip
from tests.test_attack38_soft_cancel_sync import status_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_cancel90_cancel_reaches_every_node import stored_row
from tests.test_node import ALICE, E6, E18, ask

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""
REFUSE = (
    "CREATE TRIGGER no_cancel BEFORE UPDATE OF cancel_sig ON orders WHEN NEW.cancel_sig != ''"
    " BEGIN SELECT RAISE(ABORT, 'refused here'); END"
)
"""The store refuses the cancel's proof (its maker's signature), not the order's close: the
row says ``cancelled`` as the record does, so the record left memory after its grace
(``HeldEviction.evict`` compared status, filled and reason only, till review93c) and nothing
wrote the proof again (before: the row kept no proof for good; the node could not show
the cancel to a peer asking why, ``cancel_proofs``)."""


class Proofs(MemoryNode):
    """Holds no open order and takes none; shows the cancels in ``proofs`` when asked why."""

    proofs: ClassVar[dict[str, dict[str, str]]] = {}

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        return "rejected"

    async def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        return [self.proofs[h] for h in hashes if h in self.proofs]


@contextlib.contextmanager
def refusing(db: Path) -> Iterator[None]:
    """``db``'s cancel writes refused (a trigger) while the block runs."""
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        conn.execute(REFUSE)
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER no_cancel")


async def test_a_fetched_cancel_whose_write_was_refused_is_stored_once_it_can_be(
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
        quiet = replace(fast, ae_interval=1e6)
        with refusing(db):
            peer = await serve_gossip(quiet, [url_of(node)], make=Proofs)
            try:
                await peer.gossip.start()

                async def cancelled_unstored() -> bool:
                    return (
                        await status_at(api, withdrawn) == "cancelled"
                        and node.gossip is not None
                        and node.gossip.fetched.unstored >= 1
                    )

                await wait_for(cancelled_unstored, timeout=BOUND)
                row = stored_row(db, withdrawn)
                assert row is not None and not row[1], row  # (its proof refused: not stored)
            finally:
                await peer.runner.shutdown()
                await peer.gossip.stop()
                await peer.runner.cleanup()
        # the store takes writes again: the cancel, taken again, is stored (before: never)
        want = ("cancelled", notice["signature"])

        async def stored() -> bool:
            return await asyncio.to_thread(stored_row, db, withdrawn) == want

        await wait_for(stored, timeout=BOUND)
        assert node.gossip.fetched.retried >= 1
        _, health = await api.get("/health")
        assert health["gossip"]["fetchedCancelsUnstored"] >= 1
