"""chaos61: a chain reset at a restart judges again the stored ``removed`` orders whose filled
amount the chain may no longer have. chaos60 (seed 2, node 0): a FOK partly settled, its last
match in flight, a reorg undid the settled part (its fill left the store) and the node was
killed 0.3 s later: the in-flight recheck (memory only) was lost; at the restart the saved
head was off the chain, the node read it anew from block 1, and that reset judged again only
the stored orders closed by the chain (``filled``, ``cancelled``, ``expired``): the one-shot
order, ``removed``, kept the undone fill (0.39999 filled, the chain 0; audit
``node_filled_above_chain``).

Real Hardhat (``evm_snapshot``/``evm_revert`` while the node is down), a real node and
SQLite store. The state the kill left is made by the store's own reorg step
(``remove_fills_above``: the fills gone, the records untouched), as the reorg did while the
order was in flight."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.model import OrderStatus as S
from sdex.store import ChainIdentity, Store
from sdex.storeschema import REMOVED_FILLED_AFTER
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.reorgutil import killed_after_reorg, reset_at_restart, settled
from tests.test_book import DOMAIN, A
from tests.test_book import ask as book_ask
from tests.test_mirror import meta
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


@pytest.mark.parametrize("kept", [False, True])  # (True: the saved blocks undone, watch81)
async def test_a_reset_at_restart_gives_a_removed_order_the_chains_filled_amount(
    chain: Chain, tmp_path: Path, kept: bool
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, 2 * E18, 6000 * E6))  # IOC: half matched, the rest dropped
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(resting))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        code, posted = await api.post_taken(taker, "ioc")
        assert code == 201 and posted["matches"], posted
        await settled(c, node, api, taker)
        m = await meta(api, taker)
        assert (m["status"], m["filledMakerAmount"]) == ("removed", str(3000 * E6)), m
        await killed_after_reorg(node, taker)

    async with reset_at_restart(c, cfg, snap, taker, kept) as (node, api):
        assert (await meta(api, taker))["status"] == "removed"
        assert (await meta(api, resting))["status"] == "open"


async def test_the_removed_walk_reads_only_removed_orders_with_a_fill_by_its_index(
    tmp_path: Path,
) -> None:
    """A reset's walk of ``removed`` orders costs the ones with a filled amount: read by their
    partial index (also in a database made before it: opened again, migrated), those with
    nothing filled (most removed orders) never read."""
    identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "11" * 32)
    store = Store(tmp_path / "s.db", identity, DOMAIN)
    try:

        def on_writer(sql: str, args: list[object]) -> list[tuple[object, ...]]:
            return store._writer.submit(lambda db: db.execute(sql, args).fetchall()).result()

        on_writer("DROP INDEX orders_removed_filled", [])  # a database from before the index
    finally:
        store.close()
    store = Store(tmp_path / "s.db", identity, DOMAIN)  # opened again: migrated
    try:
        plan = on_writer("EXPLAIN QUERY PLAN " + REMOVED_FILLED_AFTER, [0, 10])
        text = " ".join(str(r[-1]) for r in plan)
        assert "orders_removed_filled" in text and "TEMP B-TREE" not in text, text
        signed = [book_ask(A, 10, 100) for _ in range(6)]
        for i, so in enumerate(signed):
            store.add_order(so, i + 1, S.OPEN, "api")
        rows = [
            (so.hash_hex, S.REMOVED, 3 if i % 2 else 0, "ioc: x") for i, so in enumerate(signed)
        ]
        rows[5] = (signed[5].hash_hex, S.FILLED, 10, "filled")
        await store.update_orders(rows)
        page, last = await store.removed_filled_after(0, 1)
        assert ([s.seq for s in page], last) == ([2], 2)
        page, last = await store.removed_filled_after(2, 10)
        assert ([s.seq for s in page], last) == ([4], 4)
        assert await store.removed_filled_after(4, 10) == ([], 4)
    finally:
        store.close()
