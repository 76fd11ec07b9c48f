"""While newHeads is live (Hardhat announces every block it mines), the watcher takes the
latest block from the announcements, not from asking "latest": after a poll that applied
blocks it waits for the next announcement (no poll at once), and a poll our settlement's
receipt wakes before its block's announcement waits a moment for it
(``sdex.watch.blocks.unannounced``). Real Hardhat, a real node; its safety poll set long
so that only those two paths could ask."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.mirror import Header
from sdex.watch import loop as loop_module
from sdex.watch.watcher import Watcher
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all, trace_calls

SETTLEMENTS = 6
LATE = 0.02
"""Seconds each announcement is held back in the second part (the receipt comes first)."""


@pytest.fixture
def late_heads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    """Announcements handed to the watcher ``LATE`` seconds late while ``["on"]``."""
    switch = {"on": False}
    real = Watcher._on_head

    def on_head(self: Watcher, header: Header | None) -> None:
        if switch["on"]:
            asyncio.get_running_loop().call_later(LATE, real, self, header)
        else:
            real(self, header)

    monkeypatch.setattr(Watcher, "_on_head", on_head)
    monkeypatch.setattr(loop_module, "SUBSCRIBED_POLL", 60.0)
    return switch


async def test_the_watcher_takes_announced_heads_without_asking_latest(
    chain: Chain, tmp_path: Path, late_heads: dict[str, bool]
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        w = node.watcher
        await wait_for(lambda: w.subscribed and w.caught_up.is_set())

        asked = trace_calls(w.rpc)

        async def settle_one() -> None:
            sent = node.settler.sent
            orders = [c.sign(ask(c, CAROL, E18, 3000 * E6)), c.sign(bid(c, BOB, E18, 3000 * E6))]
            await post_all(api, orders)
            await wait_for(lambda: node.settler.sent == sent + 1 and node.settler.idle.is_set())
            block = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: w.applied is not None and w.applied.number >= block)

        async def settle(n: int) -> list[list[object]]:
            """``n`` crossings settled one after another: the watcher's "latest" asks."""
            before = len(asked)
            for _ in range(n):
                await settle_one()
            return [
                p for m, p in asked[before:] if m == "eth_getBlockByNumber" and p[0] == "latest"
            ]

        await settle(2)  # (the accounts' first reads, once)
        latest = await settle(SETTLEMENTS)
        # one a settlement before: the poll after one that applied a block asked at once
        assert len(latest) <= SETTLEMENTS // 3, latest
        late_heads["on"] = True  # each receipt now comes before its block's announcement
        latest = await settle(SETTLEMENTS)
        # one a settlement before: the receipt's wake-up asked for "latest"
        assert len(latest) <= SETTLEMENTS // 3, latest
        assert w.status == "ok" and not node.mirror.own
        head = c.rpc.call("eth_getBlockByNumber", "latest", False)
        assert node.mirror.head is not None and node.mirror.head.hash == head["hash"]
