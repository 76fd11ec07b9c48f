"""reorg63's finding: the orders of own-settlement stubs let go past ``MAX_STUBS``
(``OwnReceipts.overflow``) were judged again at the next ``Mirror.apply``, whatever its
height. An apply below the settlement's block (the watcher reading a block mined before the
settlement's, its receipt confirmed meanwhile) found no fill in the mirror: the node undid
its own fill, reopened the order (``fill_reverted``), and the block filled it again. Now
they wait until the mirror's head reaches the highest block of those stubs.

The node here keeps no receipt decoded and no stub (``cap`` and ``stub_cap`` 0, as the
16,385th stub is let go), and its watcher is held (``read_range``) on a block mined before
the settlement's until the node has confirmed the settlement. A real node on the session's
Hardhat."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sdex.model import OrderStatus
from sdex.watch import follow
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_mirror_ahead import follows
from tests.test_mirror_lag import Moves
from tests.test_node import BOB, DAVE, E6, E18, ask, bid


class HoldRange:
    """The watcher's next block read, once ``arm``ed, waits (entered) until ``release``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.armed, self.entered, self.gate = False, asyncio.Event(), asyncio.Event()
        self.start = -1
        real = follow.read_range

        async def held(*args: Any) -> None:
            if self.armed and not self.gate.is_set():
                self.start = args[3]
                self.entered.set()
                await asyncio.wait_for(self.gate.wait(), 60)
            await real(*args)

        monkeypatch.setattr(follow, "read_range", held)


async def test_an_overflowed_own_fill_is_not_reopened_by_a_block_before_its_own(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    hold = HoldRange(monkeypatch)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        node.mirror.own.cap = node.mirror.own.stub_cap = 0
        await wait_for(lambda: node.watcher.caught_up.is_set())
        salt = c.exchange.min_valid_salt(c.address(DAVE)) + 10**9
        resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6, salt=salt))
        assert (await api.post_taken(resting))[0] == 201
        await synced(node, c)

        hold.armed = True
        c.rpc.call("evm_mine")  # block h: the watcher is held reading it
        await asyncio.wait_for(hold.entered.wait(), 20)
        before = int(c.rpc.call("eth_blockNumber"), 16)
        assert hold.start == before
        taker = c.sign(bid(c, BOB, E18 // 10, 300 * E6))
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: node.settler.settled == 1, timeout=20)
        assert node.records[resting.hash].status is OrderStatus.FILLED
        assert int(c.rpc.call("eth_blockNumber"), 16) > before  # (the settlement's block)
        assert resting.hash in node.mirror.own.overflow  # (no stub kept: let go)

        moves = Moves(node)
        hold.gate.set()  # block h applied (head below the settlement's), then the next
        await synced(node, c)
        await wait_for(lambda: follows(api, node, c, [resting, taker]), timeout=30)
        assert moves.of(resting.hash) == [], moves.seen  # never reopened meanwhile
        assert node.records[resting.hash].status is OrderStatus.FILLED
        assert not node.mirror.own.overflow
