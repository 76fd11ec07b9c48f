"""review44: a peer's ``/p2p/cancelled`` pages, walked by their ``next`` cursor, carry every
soft-cancelled order, even when a page's rows do not all fit in the answer's bytes.

Before, ``cancelled_page`` cut the entries to what fit but answered the cursor of the last
row read: the rows cut were skipped by the walk, so a bootstrapping node never heard of their
cancels and took the orders as new (attack38's hole again: contract wallets' orders, up to
~18 KB with their cancel, overflow the 8 MB answer of a 500-row page). A real node on the
test's Hardhat, its soft cancels as a peer's page carries them.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from sdex.gossip.payload import json_size
from sdex.order import ZERO_ADDRESS
from sdex.storeschema import ORDER_COLUMNS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack38_cancelled_entries import PEER, entry
from tests.test_node import ALICE, E6, E18, ask


async def test_a_walk_of_byte_bound_pages_misses_no_cancel(chain: Chain, tmp_path: Path) -> None:
    c = chain
    withdrawn = [c.sign(ask(c, ALICE, E18, (1000 + i) * E6)) for i in range(3)]
    entries = [entry(c, so) for so in withdrawn]
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        for e in entries:
            assert await node.take_cancelled(e, PEER) is True

        async def stored() -> bool:  # (its rows are written lazily, as a peer's orders')
            return len((await node.cancelled_page(0, 10, 1 << 20))[0]) == len(entries)

        await wait_for(stored, timeout=10)
        room = max(json_size(e) for e in entries) + 3  # (one entry a page, not two)
        got: list[dict[str, str]] = []
        after = 0
        for _ in range(2 * len(entries)):  # (the walk a bootstrap makes: ``flows._pages``)
            page, nxt = await node.cancelled_page(after, 10, room)
            assert len(page) <= 1
            got += page
            if nxt <= after:
                break
            after = nxt
        assert sorted(g["signature"] for g in got) == sorted(e["signature"] for e in entries)


async def test_expired_cancels_take_no_room_in_a_page(chain: Chain, tmp_path: Path) -> None:
    """A page's ``limit`` rows are live soft cancels, not every ``cancelled`` row since the
    node began: a bootstrap walks at most ``max_orders / snapshot_page + 2`` pages, so on a
    node whose history holds more cancelled rows than that (a market maker's cancels, never
    deleted, expired long ago, the oldest first) the walk ended before it reached any cancel
    that still matters, and the late node took the withdrawn order as new (attack38)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, _api):
        soon = node.now() + 5
        old = [c.sign(ask(c, ALICE, E18, (900 + i) * E6, expiry=soon)) for i in range(3)]
        live = c.sign(ask(c, ALICE, E18, 1000 * E6))
        for so in [*old, live]:  # (arrival order: the expired ones first)
            assert await node.take_cancelled(entry(c, so), PEER) is True

        async def stored() -> bool:  # (its rows are written lazily, as a peer's orders')
            return len((await node.cancelled_page(0, 10, 1 << 20))[0]) == 4

        await wait_for(stored, timeout=10)
        c.rpc.call("evm_increaseTime", 60)  # the chain's clock past the old ones' expiry
        c.rpc.call("evm_mine")

        async def expired() -> bool:
            return node.now() > soon

        await wait_for(expired, timeout=10)
        page, _ = await node.cancelled_page(0, 1, 1 << 20)  # (a walk's page of one row)
        assert page == [entry(c, live)]  # before: [] (its row, the first, expired)


ROWS = 20_000
"""Order rows a node's history holds besides its live soft cancels (filled ones, and one in
``SOFT`` a soft cancel long expired)."""
SOFT = 20


async def test_a_cancelled_page_reads_the_soft_cancels_not_the_history(
    chain: Chain, tmp_path: Path
) -> None:
    """``GET /p2p/cancelled`` is a peer's to call at its rate: a page must not cost the
    writer thread (whose commits every order's acknowledgement waits on) a scan of every
    order row after its cursor. Counted in SQLite's own steps on the node's writer
    connection: a page costs its soft cancels' index entries, fewer than one step a row of
    history (a scan of the table costs several a row)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (its schema made)
    old = c.sign(ask(c, ALICE, E18, 900 * E6)).to_json()
    old["expiry"] = "1"
    rows = [
        (f"0x{i:064x}", i, old["maker"], old["makerToken"], old["takerToken"],
         json.dumps(old), "cancelled" if i % SOFT == 0 else "filled", "0", "", "api", "gtc",
         "0x" + "ab" * 65 if i % SOFT == 0 else "", 0.0, 0.0, ZERO_ADDRESS)
        for i in range(1, ROWS + 1)
    ]  # fmt: skip
    with contextlib.closing(sqlite3.connect(cfg.db)) as db, db:  # (the node stopped)
        cols = ", ".join(ORDER_COLUMNS[:15])  # (those before audit62's cancel position)
        db.executemany(f"INSERT INTO orders ({cols}) VALUES ({','.join('?' * 15)})", rows)
    async with running_node(cfg) as (node, _api):
        live = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert await node.take_cancelled(entry(c, live), PEER) is True  # (arrives after them)

        async def stored() -> bool:
            return len((await node.cancelled_page(0, 10, 1 << 20))[0]) == 1

        await wait_for(stored, timeout=10)
        steps = [0]

        def step() -> int:
            steps[0] += 1
            return 0

        node.store._call(lambda db: db.set_progress_handler(step, 100))
        try:
            page, _ = await node.cancelled_page(0, 500, 1 << 20)
        finally:
            node.store._call(lambda db: db.set_progress_handler(None, 100))
        assert page == [entry(c, live)]
        assert steps[0] * 100 < ROWS, steps  # before: ~10 steps a row (a scan by seq)
