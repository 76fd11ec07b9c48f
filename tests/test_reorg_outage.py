"""A reorg found while the chain does not answer the fork point's header reads (real Hardhat
and SQLite; the errors injected into the real node's batch answers): the watcher retries
with its next polls and undoes the reorg once it can read them, never a chain reset (which
would delete the old chain's fills and re-judge every order for an outage). So for a
restarted node whose saved head the chain answered null once, or whose chain answered its
head from behind once (a lagging backend): no proof of another chain."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.errors import RpcError
from sdex.mirror import Mirror
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import no_kept_blocks
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_reorg_replay import one_order_node


def fork_point_read(calls: list[tuple[str, list[Any]]], m: Mirror) -> bool:
    """Is this batch the watcher's fork point read: the kept headers alone, from the lowest
    up (a range's read of headers first asks for blocks above our head, then our head)?"""
    kept = [[hex(b.header.number), False] for b in m.blocks]
    asked = [params for _, params in calls]
    methods = {method for method, _ in calls}
    return methods == {"eth_getBlockByNumber"} and asked == kept[: len(asked)]


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
            if state["failing"] and fork_point_read(calls, w.mirror):
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
    cfg, whole, _ = await _restarted_with_a_fill(c, tmp_path)
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
    no_kept_blocks(cfg.db)  # (none to undo with: watch81's restart undoes them instead)
    async with running_node(cfg) as (node, api):
        w = node.watcher
        await wait_for(lambda: w.resets == 1, timeout=30)
        await synced(node, c)
        assert await api.status(whole) == "open"
        assert (await api.get("/v1/fills"))[1]["total"] == 0


async def _restarted_with_a_fill(c: Chain, tmp_path: Path) -> tuple[Any, SignedOrder, int]:
    """The config of a node that saw ALICE's order filled and stopped, the order, and the
    node's saved head (saved alone: no kept block)."""
    cfg = node_config(c, tmp_path / "n.db")
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(whole))[0] == 201
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        await synced(node, c)
        assert node.mirror.head is not None
        head = node.mirror.head.number
    no_kept_blocks(cfg.db)  # (an older version's store: the saved head alone, watch81)
    return cfg, whole, head


async def test_a_saved_head_answered_null_once_at_start_is_not_a_reset(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The start's check of the saved head answered null (a lagging backend): the head is
    kept, the status says so, and the first poll finds it still the chain's: no reset (which
    would delete every fill, forget the nonce and drop every pending settlement)."""
    c = chain
    cfg, _, ours = await _restarted_with_a_fill(c, tmp_path)
    real = AsyncRpc.call
    nulls = []

    async def call(self: AsyncRpc, method: str, *params: Any) -> Any:
        if method == "eth_getBlockByNumber" and params[:1] == (hex(ours),) and not nulls:
            nulls.append(method)
            return None
        return await real(self, method, *params)

    monkeypatch.setattr(AsyncRpc, "call", call)
    caplog.set_level(logging.WARNING, logger="sdex.watch")
    async with running_node(cfg) as (node, api):
        w = node.watcher
        c.rpc.call("hardhat_mine", hex(1))
        await synced(node, c)
        assert nulls and (w.resets, w.reorgs) == (0, 0)
        assert (await api.get("/v1/fills"))[1]["total"] == 1
        said = [r.getMessage() for r in caplog.records if r.name == "sdex.watch"]
        assert any(f"our head {ours} not read" in m for m in said), said


@pytest.mark.parametrize("lags", [1, 3])
async def test_a_chain_answering_from_behind_for_a_moment_after_a_restart_is_not_a_reset(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture, lags: int
) -> None:
    """Restarted (no header kept), the node's polls got the chain's latest block one behind
    its saved head (a lagging backend, a node rewinding), poll after poll for less than
    ``BEHIND_SECONDS``: the same deployment block, so no proof of another chain: each poll
    fails as ``behind`` (``/health`` says so), and the next good one follows on."""
    c = chain
    cfg, _, ours = await _restarted_with_a_fill(c, tmp_path)
    caplog.set_level(logging.WARNING, logger="sdex.watch")
    async with running_node(cfg) as (node, api):
        w = node.watcher
        await wait_for(w.caught_up.is_set, timeout=20)
        assert not w.mirror.blocks
        real = w.rpc.call
        lagged: list[str] = []

        async def call(method: str, *params: Any) -> Any:
            if (
                method == "eth_getBlockByNumber"
                and params[:1] == ("latest",)
                and len(lagged) < lags
            ):
                lagged.append(w.status)  # (the status the previous polls left)
                return await real(method, hex(ours - 1), False)
            return await real(method, *params)

        w.rpc.call = call  # type: ignore[method-assign]
        await wait_for(lambda: len(lagged) >= lags, timeout=10)
        assert lagged[1:] == ["behind"] * (lags - 1)
        c.rpc.call("hardhat_mine", hex(1))
        await synced(node, c)
        assert (w.resets, w.reorgs) == (0, 0)
        assert (await api.get("/v1/fills"))[1]["total"] == 1
        said = [r.getMessage() for r in caplog.records if r.name == "sdex.watch"]
        assert any(" behind: " in m and f"below our block {ours}" in m for m in said), said
