"""A restart judges the stored open orders from the saved mirror at its head, with no chain
read per order, then applies the blocks mined while it was down before it is ready: a fill,
a cancel and a transfer made meanwhile are all seen. Real Hardhat, a real node restarted
on the same SQLite store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.watch import watcher as watcher_module
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask


async def status(api: Api, s: SignedOrder) -> str:
    code, rec = await api.get(f"/v1/orders/{s.hash_hex}")
    assert code == 200
    return str(rec["metaData"]["status"])


async def offered(api: Api, c: Chain) -> set[str]:
    """The hashes of the asks the node's book offers now."""
    q = f"/v1/orderbook?baseToken={c.weth.address}&quoteToken={c.usdc.address}&perPage=100"
    code, body = await api.get(q)
    assert code == 200
    return {r["metaData"]["orderHash"].lower() for r in body["asks"]["records"]}


def saved_past(node: Any, number: int) -> bool:
    a = node.watcher.applied
    return a is not None and a.number >= number


async def post_and_save(node: Any, api: Api, c: Chain, orders: list[SignedOrder]) -> None:
    """Once the node has caught up: ``orders`` posted (each taken), then a block mined and
    applied (the mirror saves the makers' funds it learned, and its head)."""
    await wait_for(lambda: node.watcher.caught_up.is_set())
    for s in orders:
        assert (await api.post_taken(s))[0] == 201
    c.rpc.call("evm_mine")
    head = int(c.rpc.call("eth_blockNumber"), 16)
    await wait_for(lambda: saved_past(node, head), timeout=20)


async def part_filled_and_saved(node: Any, api: Api, c: Chain, s: SignedOrder) -> None:
    """Once the node has caught up: ``s`` (an ask of ``E18`` WETH) posted, a tenth of it filled
    on chain by Bob (a ``mirror_orders`` row), and the mirror saved past that block."""
    await wait_for(lambda: node.watcher.caught_up.is_set())
    assert (await api.post_taken(s))[0] == 201
    c.exchange.fill_order(c.sender(BOB), s, 300 * E6)
    head = int(c.rpc.call("eth_blockNumber"), 16)
    await wait_for(lambda: saved_past(node, head), timeout=20)


async def one_part_filled_saved(c: Chain, tmp_path: Path) -> tuple[NodeConfig, SignedOrder]:
    """A node's store at ``tmp_path`` holding one ask of Alice's (returned), a tenth filled
    on chain and the mirror saved past that fill (``part_filled_and_saved``; node stopped)."""
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, ALICE, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        await part_filled_and_saved(node, api, c, s)
        assert node.records[s.hash].filled == E18 // 10
    return cfg, s


async def one_ask_saved(c: Chain, tmp_path: Path) -> tuple[NodeConfig, SignedOrder]:
    """A node's store at ``tmp_path`` holding one ask of Carol's (returned), its mirror
    saved past it (the node stopped)."""
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, CAROL, E18 // 10, 330 * E6))
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, [s])
    return cfg, s


def saved_head_off_the_chain(cfg: NodeConfig) -> int:
    """The saved head given another hash at its height (as if the chain had reorganised
    there while the node was down): its number."""
    with sqlite3.connect(cfg.db) as db:
        (raw,) = db.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
        number, _, timestamp = json.loads(raw)
        other = json.dumps([number, "0x" + "ee" * 32, timestamp])
        db.execute("UPDATE meta SET value=? WHERE key='mirror_head'", (other,))
    return int(number)


async def test_a_restart_reads_no_unchanged_order_yet_sees_what_changed_while_down(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    filled = c.sign(ask(c, ALICE, E18 // 10, 300 * E6))
    cancelled = c.sign(ask(c, ALICE, E18 // 10, 310 * E6))
    moved = c.sign(ask(c, DAVE, E18 // 10, 320 * E6))
    same = c.sign(ask(c, CAROL, E18 // 10, 330 * E6))
    orders = [filled, cancelled, moved, same]
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, orders)
        assert await offered(api, c) == {s.hash_hex.lower() for s in orders}

    # while the node is down: Bob fills one, Alice cancels one, Dave sends his WETH away
    c.exchange.fill_order(c.sender(BOB), filled, 300 * E6)
    c.exchange.cancel_order(c.sender(ALICE), cancelled.order)
    dave = c.address(DAVE)
    c.weth.transfer(c.sender(DAVE), c.address(BOB), c.weth.balance_of(dave))
    assert c.weth.balance_of(dave) == 0

    async with running_node(cfg) as (node, api):
        assert node.started.is_set()
        assert node.reloaded_from_chain == 0
        assert node.rpc.calls["eth_call"] == 0  # (no getOrderStates: the mirror judged them)
        assert await status(api, filled) == "filled"
        assert await status(api, cancelled) == "cancelled"
        assert await status(api, same) == "open"
        assert await offered(api, c) == {same.hash_hex.lower()}  # (Dave's: nothing to sell)
        assert node.mirror.spendable((dave, c.weth.address)) == 0


async def test_a_restart_whose_saved_head_left_the_chain_reads_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    """The saved head is not on the chain (another hash at its height): the saved mirror is
    not the chain's, so the stored orders are read from the chain, as before the mirror."""
    c = chain
    cfg, s = await one_ask_saved(c, tmp_path)
    saved_head_off_the_chain(cfg)

    async with running_node(cfg) as (node, api):
        assert not node.watcher.resumed
        assert node.reloaded_from_chain == 1
        assert await status(api, s) == "open"
        await wait_for(lambda: node.watcher.resets == 1, timeout=20)


async def test_a_restart_far_behind_the_chain_reads_the_chain(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More than ``CATCH_UP_BLOCKS`` mined while the node was down: the stored orders are
    read from the chain (ready without waiting for the watcher's catch-up), as before."""
    monkeypatch.setattr(watcher_module, "CATCH_UP_BLOCKS", 3)
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    s = c.sign(ask(c, CAROL, E18 // 10, 330 * E6))
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, [s])
    c.rpc.call("hardhat_mine", hex(4))

    async with running_node(cfg) as (node, api):
        assert not node.watcher.resumed
        assert node.reloaded_from_chain == 1
        assert await status(api, s) == "open"
