"""An order whose maker emptied their wallet shows the same status whether the node saw the
transfer running or caught up with it at a restart from the saved mirror (review23; the
seventeenth session's gap c: the restart kept it ``open`` with zero funds)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sdex.watch import watcher as watcher_module
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import synced
from tests.test_node import BOB, DAVE, E6, E18, ask
from tests.test_restart_mirror import offered, post_and_save, saved_past, status


async def test_an_emptied_wallet_s_order_has_one_status_running_or_restarted(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    dave = c.address(DAVE)
    seen_running = c.sign(ask(c, DAVE, E18 // 10, 320 * E6))
    seen_restarted = c.sign(ask(c, DAVE, E18 // 10, 321 * E6))
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        assert (await api.post_taken(seen_running))[0] == 201
        balance = c.weth.balance_of(dave)
        c.weth.transfer(c.sender(DAVE), c.address(BOB), balance)
        await synced(node, c)

        async def moved() -> bool:
            return await status(api, seen_running) != "open"

        await wait_for(moved, timeout=20)
        running = await status(api, seen_running)
        c.weth.transfer(c.sender(BOB), dave, balance)  # back: the second order is funded
        await synced(node, c)
        assert (await api.post_taken(seen_restarted))[0] == 201
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: saved_past(node, head), timeout=20)

    c.weth.transfer(c.sender(DAVE), c.address(BOB), c.weth.balance_of(dave))
    async with running_node(cfg) as (node, api):
        assert node.reloaded_from_chain == 0
        assert await offered(api, c) == set()
        assert await status(api, seen_restarted) == running == "unfunded"
    with sqlite3.connect(cfg.db) as db:  # (the stored row too: listings by status read it)
        rows = dict(db.execute("SELECT hash, status FROM orders").fetchall())
    assert rows == {seen_running.hash_hex: running, seen_restarted.hash_hex: running}, rows


async def test_a_restart_exactly_the_catch_up_bound_behind_resumes_from_the_mirror(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``CATCH_UP_BLOCKS`` mined while down (the bound itself, not past it): resumed from
    the saved mirror, the blocks caught up before ready, a transfer among them seen."""
    monkeypatch.setattr(watcher_module, "CATCH_UP_BLOCKS", 4)
    c = chain
    dave = c.address(DAVE)
    s = c.sign(ask(c, DAVE, E18 // 10, 320 * E6))
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg) as (node, api):
        await post_and_save(node, api, c, [s])
        saved = node.watcher.applied
        assert saved is not None
    c.weth.transfer(c.sender(DAVE), c.address(BOB), c.weth.balance_of(dave))  # (one block)
    c.rpc.call("hardhat_mine", hex(4 - (int(c.rpc.call("eth_blockNumber"), 16) - saved.number)))
    assert int(c.rpc.call("eth_blockNumber"), 16) - saved.number == 4
    async with running_node(cfg) as (node, api):
        assert node.watcher.resumed and node.reloaded_from_chain == 0
        assert await status(api, s) == "unfunded"
        assert node.mirror.spendable((dave, c.weth.address)) == 0
