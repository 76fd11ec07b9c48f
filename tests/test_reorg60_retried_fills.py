"""reorg60: the settler's write of its settlement's fills (from the receipt) failed once
(the store refusing for a moment) and was tried again after a pause; meanwhile a reorg
dropped the settlement's block. The retry wrote the old block's fills after the reorg had
removed what the store held of that block: the store listed fills the chain does not have,
for good (the watcher's reorg check had passed). Real Hardhat (``evm_snapshot``/
``evm_revert``), a real node and its SQLite store refusing the write by a trigger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import sdex.node.settlefills as settlefills
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_api_writes import refuse
from tests.test_mirror import head
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg_false_fills import forget_nonces, on_chain, stored

PAUSE = 10.0
"""The settler's pause before it writes the fills again (its first pauses are shorter: the
reorg comes within this one here)."""


async def test_a_fills_write_tried_again_after_a_reorg_does_not_store_the_old_blocks_fills(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(settlefills, "FILLS_WRITE_PAUSES", (PAUSE,))
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        snap, fork, orders, settled_at = await settled_refusing_fills(c, node, api)
        assert stored(node, orders) == []  # (refused: the settler pauses, then again)

        assert c.rpc.call("evm_revert", snap) is True  # the settlement's block is gone
        forget_nonces(c)
        for _ in range(settled_at - fork + 1):
            c.rpc.call("evm_mine")
        number = head(c)[0]

        def past_the_reorg() -> bool:
            at = node.watcher.applied
            return at is not None and at.number >= number and at.hash == head(c)[1]

        await wait_for(past_the_reorg, timeout=PAUSE / 2)  # (within the settler's pause)
        assert on_chain(c, orders) == []
        await asyncio.wrap_future(
            node.store._writer.submit(lambda db: db.execute("DROP TRIGGER no_fills"))
        )
        await wait_for(lambda: node.settler.idle.is_set(), timeout=3 * PAUSE)

        async def as_the_chain() -> bool:
            return stored(node, orders) == on_chain(c, orders)

        try:
            await wait_for(as_the_chain, timeout=3 * PAUSE)  # before: the old block's 2 fills
        except AssertionError:
            seen = stored(node, orders), on_chain(c, orders)
            raise AssertionError(f"stored {seen[0]}, the chain's {seen[1]}") from None


async def settled_refusing_fills(
    c: Chain, node: Node, api: Api
) -> tuple[str, int, list[SignedOrder], int]:
    """A snapshot, then a match settled while a real SQLite trigger refuses every fills
    row: (the snapshot, the block before, the two orders, the settlement's block)."""
    snap = str(c.rpc.call("evm_snapshot"))
    fork = head(c)[0]
    await refuse(
        node,
        "CREATE TRIGGER no_fills BEFORE INSERT ON fills"
        " BEGIN SELECT RAISE(ABORT, 'refused here'); END",
    )
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    assert (await api.post_taken(resting))[0] == 201
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    assert (await api.post_taken(taker, "ioc"))[0] == 201
    orders = [resting, taker]
    await wait_for(lambda: len(on_chain(c, orders)) == 2, timeout=30)
    return snap, fork, orders, max(b for _, _, b in on_chain(c, orders))
