"""chaos69: an order the node holds whose row's insert the store refused is written again.

``bench/chaos52.py --db-locks`` (seed 8): another process held node 1's database write lock
past the writer's busy timeout while a wallet posted an order to it. The node took the order
into memory and its book, pushed it to its peers, then its row's insert failed ("database is
locked"): the wallet got 503, but nothing wrote the row again while the order stayed open.
The node traded the order from memory while ``GET /v1/orders`` (read from the store) left
it out (the audit's ``books_disagree``: open at the peers, not at node 1), and a restart
forgot it. A peer's order whose lazy insert failed was left the same way. Now the store
keeps the hashes of the order rows it refused and the node writes again those it still
holds (``HeldEviction.store_refused``, from the eviction loop)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import BOB, E6, E18, bid


@contextlib.asynccontextmanager
async def write_locked(node: Node, db: Path, busy: float = 0.3) -> AsyncIterator[None]:
    """Another connection (an operator's shell) holds ``db``'s write lock until the block
    ends; the node's writer waits ``busy`` seconds for it, not 5 (its refusals come sooner)."""
    ms = int(busy * 1000)
    await asyncio.wrap_future(
        node.store._writer.submit(lambda d: d.execute(f"PRAGMA busy_timeout={ms}"))
    )
    other = sqlite3.connect(db, isolation_level=None, timeout=30)
    try:
        other.execute("BEGIN IMMEDIATE")  # the write lock, held by another connection
        yield
        other.execute("COMMIT")
    finally:
        other.close()


async def listed(api: Api, order_hash: str) -> bool:
    """Whether ``GET /v1/orders`` (the store's rows) lists the order."""
    body = await api.listing("/v1/orders", perPage=100)
    return any(r["metaData"]["orderHash"] == order_hash for r in body["records"])


async def test_an_order_whose_insert_a_lock_refused_is_stored_once_the_lock_goes(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    posted = c.sign(bid(c, BOB, E18, 2000 * E6))  # (nothing to trade: it rests)
    async with running_node(node_config(c, db)) as (node, api):
        # (replayed first: during the start's replay a wallet's order waits for it, replay79,
        # and the replay's own writes, refused by the lock, end that wait CHAIN_UNAVAILABLE:
        # the chain's changes cannot be stored, so the order is refused before its insert)
        await wait_for(node.replayed)
        async with write_locked(node, db):
            code, body = await api.post_order(posted)
            assert code == 503 and "not stored" in body["reason"], (code, body)
        assert node.registry.get(posted.hash) is not None  # held (and pushed to any peer)
        assert (await api.status(posted)) == "open"

        async def stored() -> bool:
            return node.store.order_now(posted.hash_hex) is not None

        await wait_for(stored, 30)  # (on main: never written again)
        assert await listed(api, posted.hash_hex)
    async with running_node(node_config(c, db)) as (node, api):  # a restart keeps it
        assert (await api.status(posted)) == "open"
        assert await listed(api, posted.hash_hex)
