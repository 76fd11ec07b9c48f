"""A reorg found while the chain does not answer the fork point's header reads (real Hardhat
and SQLite; the errors injected into the real node's batch answers): the watcher retries
with its next polls and undoes the reorg once it can read them, never a chain reset (which
would delete the old chain's fills and re-judge every order for an outage)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdex.errors import RpcError
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_reorg_replay import one_order_node


def fork_point_read(calls: list[tuple[str, list[Any]]]) -> bool:
    """Is this batch the watcher's fork point read (kept headers alone, no logs)?"""
    return all(method == "eth_getBlockByNumber" for method, _ in calls)


@pytest.mark.parametrize("fault", ["error", "none", "garbage"])
async def test_a_reorg_whose_fork_point_cannot_be_read_is_not_a_reset(
    chain: Chain, tmp_path: Path, fault: str
) -> None:
    """``error``: every header answered with a JSON-RPC error (a node behind a load
    balancer failing); ``none``: answered null (a lagging backend); ``garbage``: not a block."""
    c = chain
    async with one_order_node(c, tmp_path) as (node, api, whole):
        w = node.watcher
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(3))
        await synced(node, c)
        assert await api.status(whole) == "filled"
        real = w.rpc.batch
        state = {"failing": True, "failed": 0}

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            out = await real(calls)
            if state["failing"] and fork_point_read(calls):
                state["failed"] += 1
                if state["failed"] >= 3:  # the outage ends after three polls
                    state["failing"] = False
                bad: Any = {
                    "error": RpcError(-32000, "upstream unavailable (injected)"),
                    "none": None,
                    "garbage": {"number": "0x1"},
                }[fault]
                return [bad for _ in out]
            return out

        w.rpc.batch = batch  # type: ignore[method-assign]
        revert(c, snap)  # another branch from below the fill, as long as the old one
        c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)
        c.rpc.call("hardhat_mine", hex(3))
        await wait_for(lambda: w.reorgs + w.resets > 0, timeout=30)
        await synced(node, c)
        assert state["failed"] == 3
        assert (w.resets, w.reorgs) == (0, 1)  # an outage proves no other chain
        m = await meta(api, whole)
        assert (m["status"], m["filledMakerAmount"]) == ("open", "0")
        assert (await api.get("/v1/fills"))[1]["total"] == 0


async def test_a_restarted_node_whose_head_the_chain_does_not_answer_does_not_reset(
    chain: Chain, tmp_path: Path
) -> None:
    """Restarted, the node keeps no header to undo with: its saved head answered null for a
    few polls (a lagging backend) is no proof of another chain; the node follows on once
    the chain answers, its fill kept, and resets only for a head the chain proves gone."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(whole))[0] == 201
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
    async with running_node(cfg) as (node, api):
        w = node.watcher
        await wait_for(w.caught_up.is_set, timeout=20)  # (at its saved head: nothing new)
        assert w.mirror.head is not None and not w.mirror.blocks
        ours = hex(w.mirror.head.number)
        real = w.rpc.batch
        state = {"failing": True, "failed": 0}

        async def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
            out = await real(calls)
            for i, (method, params) in enumerate(calls):
                if state["failing"] and method == "eth_getBlockByNumber" and params[0] == ours:
                    out[i] = None
                    state["failed"] += 1
                    state["failing"] = state["failed"] < 4
            return out

        w.rpc.batch = batch  # type: ignore[method-assign]
        c.rpc.call("hardhat_mine", hex(2))
        await wait_for(lambda: not state["failing"], timeout=30)
        await synced(node, c)
        assert (w.resets, w.reorgs) == (0, 0)
        assert await api.status(whole) == "filled"
        assert (await api.get("/v1/fills"))[1]["total"] == 1


@pytest.mark.parametrize("longer", [True, False])
async def test_a_restarted_node_whose_head_the_chain_proves_gone_resets(
    chain: Chain, tmp_path: Path, longer: bool
) -> None:
    """The chain took another branch from below the node's fill while it was down (longer
    than the old one, or shorter): no header kept to undo with, so a reset, the fill gone."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(whole))[0] == 201
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(3))
        await synced(node, c)
    revert(c, snap)
    c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)
    c.rpc.call("hardhat_mine", hex(6 if longer else 1))
    async with running_node(cfg) as (node, api):
        w = node.watcher
        await wait_for(lambda: w.resets == 1, timeout=30)
        await synced(node, c)
        assert await api.status(whole) == "open"
        assert (await api.get("/v1/fills"))[1]["total"] == 0
