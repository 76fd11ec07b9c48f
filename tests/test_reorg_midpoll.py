"""A reorg (or a reset) found in the middle of a poll, after an earlier range of the same
poll was applied (real Hardhat and SQLite; the chain is reverted between the two ranges):
that range's fills above the fork are dropped, not stored and published as phantoms; the
fills at or below it reach the node even when finding the fork fails once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdex.errors import RpcError
from sdex.node.core import Node
from sdex.watch.blocks import Inconsistent
from sdex.watch.changes import BlockChanges
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask


class Between:
    """Holds ``node``'s watcher still until ``go``; then, once a range that applied a fill
    is taken in, runs ``reorg`` (the chain moves to another branch) before the next range."""

    def __init__(self, node: Node, reorg: Callable[[], None]) -> None:
        w = node.watcher
        self.paused, self.armed, self.done = True, False, False
        self._advance, self._took, self._reorg = w._advance, w._took, reorg
        w._advance = self.advance  # type: ignore[method-assign]
        w._took = self.took  # type: ignore[method-assign]

    def go(self) -> None:
        self.armed, self.paused = True, False

    async def advance(self, latest: Any, changes: BlockChanges) -> None:
        if self.paused:
            raise Inconsistent("paused (injected)")
        await self._advance(latest, changes)

    def took(self, changes: BlockChanges, eff: Any, start: int) -> bool:
        applied = self._took(changes, eff, start)
        if self.armed and eff.fills:
            self.armed = False
            self._reorg()
            self.done = True
        return applied


def branch(c: Chain, snap: str, blocks: int) -> None:
    """The chain from ``snap`` on another branch of ``blocks`` blocks (the first another's)."""
    revert(c, snap)
    c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)
    # (as long as the old branch, whose head is the poll's latest, so that the funds are
    # read at the chain's head: Hardhat answers "0x" to an eth_call at an older block
    # mined after an evm_revert)
    c.rpc.call("hardhat_mine", hex(blocks - 1))


@pytest.mark.parametrize("reset", [False, True])
async def test_a_reorg_between_two_ranges_of_a_poll_keeps_no_fill_of_the_old_branch(
    chain: Chain, tmp_path: Path, reset: bool
) -> None:
    """``reset``: no kept header is on the new branch (2 deep), so the chain is read again
    from the deployment block."""
    c = chain
    kw: dict[str, Any] = {"reorg_depth": 2} if reset else {}
    async with running_node(node_config(c, tmp_path / "n.db", **kw)) as (node, api):
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(whole))[0] == 201
        await synced(node, c)
        w = node.watcher
        snap = c.rpc.call("evm_snapshot")
        if reset:  # the node's kept headers all above the snapshot
            c.rpc.call("hardhat_mine", hex(3))
            await synced(node, c)
        between = Between(node, lambda: branch(c, snap, 9 if reset else 5))
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(4))
        w.max_range = 1  # the fill's block one range, the next blocks others
        between.go()
        await wait_for(lambda: between.done, timeout=30)
        await synced(node, c)
        assert (w.resets, w.reorgs) == ((1, 0) if reset else (0, 1))
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
        assert (await api.get("/v1/fills"))[1]["total"] == 0
        assert c.exchange.order_info(whole.order).filled == 0


async def test_a_fill_below_the_fork_reaches_the_node_when_finding_the_fork_fails_once(
    chain: Chain, tmp_path: Path
) -> None:
    """The fill's range applied, the next finds our head gone, and reading the fork point
    fails (a timeout, injected): the applied range's changes are kept for the next poll."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
        assert (await api.post_taken(whole))[0] == 201
        await synced(node, c)
        w = node.watcher
        failed = {"n": 0}
        fork_point = w._fork_point

        async def failing_once(latest: Any) -> int | None:
            if failed["n"] == 0:
                failed["n"] += 1
                raise RpcError(0, "timeout (injected)")
            return await fork_point(latest)

        w._fork_point = failing_once  # type: ignore[method-assign]
        between = Between(node, lambda: branch(c, snap, 3))
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        snap = c.rpc.call("evm_snapshot")  # the fill's block stays; the ones after go
        c.rpc.call("hardhat_mine", hex(3))
        w.max_range = 2  # the fill's block and one more, then the rest
        between.go()
        await wait_for(lambda: between.done, timeout=30)
        await synced(node, c)
        assert failed["n"] == 1
        assert w.reorgs == 1
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("filled", str(E18))
        assert (await api.get("/v1/fills"))[1]["total"] == 1
