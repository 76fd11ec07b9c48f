"""The mirror's filled and cancelled marks leave memory once saved and out of the reorg
window (``sdex.mirror.marks``), on real Hardhat and SQLite: an order the chain closed long
ago is still judged closed (posted for the first time, after a restart, named by a reorg)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.chain import OrderStatus
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask

DEPTH = 4


async def evicted(node: Node, orders: list[SignedOrder]) -> None:
    """Wait until none of ``orders``' marks is held in memory (saved, out of the window)."""
    m = node.mirror
    await wait_for(lambda: not any(s.hash in m.filled or s.hash in m.cancelled for s in orders))


def marks_match_chain(node: Node, c: Chain, orders: list[SignedOrder]) -> None:
    """The mirror's filled amount and cancel flag of each order are the chain's."""
    for s, chain_state in zip(orders, c.exchange.order_states(orders), strict=True):
        cancelled = chain_state.status == OrderStatus.CANCELLED
        mine = (node.mirror.filled_of(s.hash), node.mirror.is_cancelled(s.hash))
        assert mine == (chain_state.filled, cancelled), s.hash_hex


async def refused(api: Api, s: SignedOrder, code: str) -> None:
    status, body = await api.post_order(s)
    assert status == 400, body
    assert code in str(body), body


async def test_closed_orders_leave_memory_and_stay_closed(chain: Chain, tmp_path: Path) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=DEPTH)
    # never posted to the node: only the mirror knows what the chain did to them
    whole = c.sign(ask(c, ALICE, E18, 3000 * E6))
    part = c.sign(ask(c, CAROL, 2 * E18, 6200 * E6))
    gone = c.sign(ask(c, ALICE, E18, 3100 * E6))
    closed = [whole, part, gone]
    async with running_node(cfg) as (node, api):
        c.exchange.fill_order(c.sender(BOB), whole, 3000 * E6)
        c.exchange.fill_order(c.sender(DAVE), part, 3100 * E6)
        c.exchange.cancel_order(c.sender(ALICE), gone.order)
        c.rpc.call("hardhat_mine", hex(2 * DEPTH))
        await synced(node, c)
        await evicted(node, closed)
        assert node.mirror.marks.evictions >= 3
        marks_match_chain(node, c, closed)  # read back from the store
        assert node.mirror.marks.lookups >= 3
        await refused(api, whole, "FILLED")
        await refused(api, gone, "CANCELLED")
        assert (await api.post_taken(part))[0] == 201
        assert (await api.get(f"/v1/orders/{part.hash_hex}"))[1]["metaData"][
            "filledMakerAmount"
        ] == str(E18)
    async with running_node(cfg) as (node, api):  # a restart loads no mark into memory
        assert not node.mirror.filled and not node.mirror.cancelled
        await refused(api, whole, "FILLED")
        await refused(api, gone, "CANCELLED")
        marks_match_chain(node, c, closed)
        health = (await api.get("/health"))[1]
        assert health["chainMirror"]["mirror"]["evictedLookups"] >= 2, health


async def test_a_reorg_adds_to_an_evicted_fill_its_stored_amount(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=DEPTH)
    part = c.sign(ask(c, CAROL, 4 * E18, 12_000 * E6))
    async with running_node(cfg) as (node, _api):
        c.exchange.fill_order(c.sender(BOB), part, 3000 * E6)  # a quarter, long ago
        c.rpc.call("hardhat_mine", hex(2 * DEPTH))
        await synced(node, c)
        await evicted(node, [part])
        snap = c.rpc.call("evm_snapshot")
        c.exchange.fill_order(c.sender(DAVE), part, 6000 * E6)  # a half more, then undone
        await synced(node, c)
        assert node.mirror.filled[part.hash] == 3 * E18  # the stored quarter + the half
        revert(c, snap)
        c.rpc.call("evm_mine")
        await synced(node, c)
        assert node.watcher.reorgs == 1
        assert node.mirror.filled_of(part.hash) == E18
        c.exchange.fill_order(c.sender(DAVE), part, 9000 * E6)  # the rest, on the new branch
        await synced(node, c)
        assert node.mirror.filled_of(part.hash) == 4 * E18
        marks_match_chain(node, c, [part])
        c.rpc.call("hardhat_mine", hex(2 * DEPTH))
        await synced(node, c)
        await evicted(node, [part])
        marks_match_chain(node, c, [part])


@pytest.mark.parametrize("one_block", [True, False])
async def test_a_store_read_that_fails_once_loses_and_doubles_no_fill(
    chain: Chain, tmp_path: Path, one_block: bool
) -> None:
    """A fill of a new order, then one of an evicted order whose row read fails once: in one
    block (applied again with nothing counted twice; before: the new order's fill was
    applied, the read failed half-way through the block, and the retry added it again), or
    in the next block, read as the next range of the same poll (the first range's fill
    still reaches the node; before: lost with the poll's changes)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=DEPTH)
    new = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    old = c.sign(ask(c, CAROL, 4 * E18, 12_000 * E6))
    async with running_node(cfg) as (node, _api):
        c.exchange.fill_order(c.sender(DAVE), old, 3000 * E6)
        c.rpc.call("hardhat_mine", hex(2 * DEPTH))
        await synced(node, c)
        await evicted(node, [old])
        marks = node.mirror.marks
        read, failed = marks.lookup, []
        assert read is not None

        def fails_once(h: bytes) -> tuple[int, bool] | None:
            if not failed:
                failed.append(h)
                raise sqlite3.OperationalError("disk I/O error (injected)")
            return read(h)

        marks.lookup = fails_once
        if one_block:
            fill = c.exchange.abi.fn("fillOrder")
            c.rpc.call("evm_setAutomine", False)
            try:  # the new order's fill first
                for s in (new, old):
                    data = fill.encode(s.order.to_tuple(), s.signature, 3000 * E6)
                    c.sender(BOB).send(c.exchange.address, data, 500_000)
                c.rpc.call("evm_mine")
            finally:
                c.rpc.call("evm_setAutomine", True)
        else:  # (no await between: the node's watcher reads both blocks in one poll)
            node.watcher.max_range = 1
            c.exchange.fill_order(c.sender(BOB), new, 3000 * E6)
            c.exchange.fill_order(c.sender(BOB), old, 3000 * E6)
        await synced(node, c)
        assert failed == [old.hash]
        assert node.watcher.failures >= 1
        marks_match_chain(node, c, [new, old])
        assert node.mirror.filled_of(new.hash) == E18
        await wait_for(lambda: node.store.fills()[0] == 3)
