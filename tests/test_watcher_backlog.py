"""The fills the node could not apply are held by the watcher, bounded: past
``MAX_UNAPPLIED_FILLS`` it reads no further block until they are applied, then catches up
with nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.watch import watcher as watcher_module
from tests.conftest import Chain
from tests.nodeutil import HeldApply, node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_reorg_replay import one_order_node


async def test_unapplied_fills_are_bounded(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watcher_module, "MAX_UNAPPLIED_FILLS", 1)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        first = c.sign(ask(c, ALICE, E18, 3000 * E6))
        second = c.sign(ask(c, CAROL, E18, 3000 * E6))
        for s in (first, second):
            assert (await api.post_taken(s))[0] == 201
        await synced(node, c)
        held = HeldApply(node)
        c.exchange.fill_order(c.sender(BOB), first, 3000 * E6)
        held_at = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: w._unapplied is not None and len(w._unapplied.fills) == 1)
        c.exchange.fill_order(c.sender(BOB), second, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(3))
        failures = w.failures
        await wait_for(lambda: w.failures >= failures + 3)  # polls go on, still held
        assert w.mirror.head is not None and w.mirror.head.number == held_at
        assert w._unapplied is not None and len(w._unapplied.fills) == 1
        held.held = False
        await synced(node, c)
        assert (await api.get("/v1/fills"))[1]["total"] == 2
        for s in (first, second):
            assert await api.status(s) == "filled"


async def test_a_held_head_is_reported_as_not_reached(chain: Chain, tmp_path: Path) -> None:
    """While the node has not applied (and saved) the blocks the mirror read, /health's
    chainLag and block report the saved head, not the mirror's (before: lag 0 while the
    fills of the held blocks were not stored)."""
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher
        saved = int(c.rpc.call("eth_blockNumber"), 16)
        held = HeldApply(node)
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(2))
        top = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: w.mirror.head is not None and w.mirror.head.number == top)
        await wait_for(lambda: w.chain_head == top)
        _, health = await api.get("/health")
        assert health["chainLag"] == top - saved and health["block"] == saved
        assert health["chainMirror"]["lag"] == top - saved
        held.held = False
        await synced(node, c)
        _, health = await api.get("/health")
        assert health["chainLag"] == 0 and health["block"] == top
