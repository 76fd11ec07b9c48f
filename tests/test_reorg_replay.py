"""A reorg whose replay fails after the mirror was undone (the chain moved under the read,
a timeout): what was undone stays known and the old branch's fills are dropped, so the
next poll re-judges the orders and stores no fill of a block no longer on the chain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.store import StoredFill, StoreError
from sdex.watch.blocks import Inconsistent
from sdex.watch.changes import BlockChanges
from tests.conftest import Chain
from tests.nodeutil import Api, HeldApply, node_config, running_node, wait_for, writer_stuck
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask


@asynccontextmanager
async def one_order_node(c: Chain, tmp_path: Path) -> AsyncIterator[tuple[Node, Api, SignedOrder]]:
    """A node with one resting order (ALICE sells 1 WETH for 3000 USDC), synced."""
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_order(whole))[0] == 201
        await synced(node, c)
        yield node, api, whole


@pytest.mark.parametrize("held", [False, True])
async def test_a_reorg_whose_replay_fails_once_leaves_no_phantom_fill(
    chain: Chain, tmp_path: Path, held: bool
) -> None:
    """``held``: the node could not apply the old branch's fill before the reorg (it waits
    in the watcher's unapplied changes)."""
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher
        state = {"armed": False, "injected": 0}
        fork_point, advance = w._fork_point, w._advance
        hold = HeldApply(node, held)

        async def arming_fork_point(latest: Any) -> int | None:
            fork = await fork_point(latest)
            state["armed"] = True
            return fork

        async def failing_advance(latest: Any, changes: BlockChanges) -> None:
            if state["armed"]:
                state["armed"] = False
                state["injected"] += 1
                raise Inconsistent("the chain moved under the replay (injected)")
            await advance(latest, changes)

        w._fork_point = arming_fork_point  # type: ignore[method-assign]
        w._advance = failing_advance  # type: ignore[method-assign]
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        if held:
            await wait_for(lambda: w._unapplied is not None and bool(w._unapplied.fills))
        else:
            await synced(node, c)
            assert (await meta(api, whole))["status"] == "filled"
            assert (await api.get("/v1/fills"))[1]["total"] == 1
        revert(c, snap)
        c.rpc.call("evm_mine")
        await wait_for(lambda: state["injected"] == 1 and w.mirror.head is not None)
        hold.held = False
        await synced(node, c)
        assert w.reorgs == 1
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
        assert (await api.get("/v1/fills"))[1]["total"] == 0
        assert c.exchange.order_info(whole.order).filled == 0


async def test_a_reorg_whose_fills_removal_fails_once_leaves_no_stale_fill(
    chain: Chain, tmp_path: Path
) -> None:
    """The store refuses to delete the undone blocks' fills once (disk full, locked): the
    reorg is found again on the next poll and the old branch's fill does not stay stored
    (before: the mirror was undone first, the next poll saw no reorg, the fill stayed)."""
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher
        remove = node.store.remove_fills_above
        refused = []

        async def refusing_remove(block_number: int) -> list[StoredFill]:
            if not refused:
                refused.append(block_number)
                raise StoreError("the database refused the delete (injected)")
            return await remove(block_number)

        node.store.remove_fills_above = refusing_remove  # type: ignore[method-assign]
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
        assert (await api.get("/v1/fills"))[1]["total"] == 1
        revert(c, snap)
        c.rpc.call("evm_mine")
        await synced(node, c)
        assert (await api.get("/v1/fills"))[1]["total"] == 0
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
        assert refused and w.reorgs == 1


async def test_a_reorg_never_blocks_the_event_loop_on_a_stalled_store(
    chain: Chain, tmp_path: Path
) -> None:
    """Harden11: a reorg read the old branch's fills and deleted them through the writer
    thread with a blocking ``.result()`` on the event loop: behind a group commit the whole
    node paused, and with a hung writer (a stuck disk) a reorg froze it for good (no
    ``/health``, no wallet, no gossip). Now it is one job awaited under ``store_wait``:
    the loop serves on, ``/health`` says ``failing`` (the store), and once the store moves
    the reorg is applied (the fill gone, the order open again)."""
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher

        async def health_says(want: str) -> bool:  # (test_watch_behind's: an import cycle)
            return bool((await api.get("/health"))[1]["chain"] == want)

        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
        assert (await api.get("/v1/fills"))[1]["total"] == 1
        w.store_wait = 0.3
        with writer_stuck(node) as busy:
            revert(c, snap)
            c.rpc.call("evm_mine")
            await wait_for(lambda: health_says("failing"), timeout=30)
            assert not busy.done()  # the loop served while the writer was held
        await synced(node, c)
        await wait_for(lambda: health_says("ok"), timeout=20)
        assert w.reorgs == 1
        assert (await api.get("/v1/fills"))[1]["total"] == 0
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
