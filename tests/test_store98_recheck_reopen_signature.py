"""store98: a recheck (``_recheck_part``) may put a closed order out of memory back in the
book from its stored row (``registry.load``) on the mirror's word alone (``Mirror.state``:
``signature_valid`` True), as a reorg's rejudge did before review98c. The row is a file's:
hostile. Now the recheck of a closed order out of the book, not ECDSA-signed by its maker,
that the mirror would judge again waits for the chain's word on it (``getOrderStates``,
its signature checked: ``sdex.node.reopening``), the rule review98c gave the rejudge.

Real Hardhat, a real node on a real SQLite file. First: Alice's ask, open, the node
stopped; its row edited (``filled``, its order signature Bob's) and a recheck row added (as
a kill leaves one); at the restart the start's recheck judges it. Second: Alice's ask
filled by Bob on chain, closed and out of memory, its row's signature edited, the fill
undone by a reorg (review98c's test: it stays closed), then due a recheck (as
``_rechecks_undone`` makes it) judged at the next block: it stays closed."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sdex.signature import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import filled_ask, forgotten, reorged
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask
from tests.test_review98b_readback_idle import drain_runs
from tests.test_review98c_reopened_row_signature import resign, row_status

BOUND = 60.0
"""Seconds for each step (generous: a loaded machine, CI's 2 cores)."""


def filled_due(db: Path, hash_hex: str, filled: int) -> None:
    """The order's row closed ``filled`` at ``filled``, and due a recheck (a kill's row)."""
    with contextlib.closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
        conn.execute(
            "UPDATE orders SET status='filled', filled=? WHERE hash=?", (str(filled), hash_hex)
        )
        conn.execute("INSERT INTO rechecks (order_hash) VALUES (?)", (hash_hex,))


async def test_a_start_recheck_does_not_reopen_an_edited_row(chain: Chain, tmp_path: Path) -> None:
    c = chain
    db = tmp_path / "n.db"
    cfg = node_config(c, db)
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(whole))[0] == 201
        await synced(node, c)
    hx = whole.hash_hex.lower()
    resign(db, hx, "0x" + sign_hash(whole.hash, c.keys[BOB]).hex())
    filled_due(db, hx, E18)
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)

        async def judged() -> bool:
            return not len(node._recheck) and not await node.store.rechecks()

        await wait_for(judged, BOUND)
        assert whole.hash not in node.book  # (before: back in the book, "open")
        assert await api.status(whole) == "filled"
        assert row_status(db, hx) == "filled"


async def test_a_recheck_after_a_reorg_does_not_reopen_an_edited_row(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
        whole, snap = await filled_ask(c, node, api)
        await forgotten(node, whole)
        hx = whole.hash_hex.lower()
        resign(db, hx, "0x" + sign_hash(whole.hash, c.keys[BOB]).hex())
        await reorged(c, node, snap)
        await wait_for(lambda: node.watcher.caught_up.is_set() and not drain_runs(node), BOUND)
        assert whole.hash not in node.book  # (review98c: the reorg's rejudge)
        await forgotten(node, whole)

        node._recheck.add(whole.hash)  # (due again: ``_rechecks_undone``'s way)
        c.rpc.call("evm_mine")  # (the block's recheck judges it: ``_read_rechecks``)
        await synced(node, c)

        async def judged() -> bool:
            return whole.hash not in node._recheck and not drain_runs(node)

        await wait_for(judged, BOUND)
        assert whole.hash not in node.book  # (before: reopened on the mirror's word)
        assert await api.status(whole) == "filled"
        assert row_status(db, hx) == "filled"
