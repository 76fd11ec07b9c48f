"""review73: a reset at a start, and the re-judging mark.

One answer of another hash for the deployment block, at a start, from an
endpoint that flapped (the chain not replaced): ``Store._bind`` took the chain for a replaced
one and made a reset of the store (reset70's, at open): its pending settlements given up
(``dropped``, one mined or pooled in fact: its orders matched again, a second settlement of
the same match signed, a paid revert), its fills dropped. The chain is asked whether it still
holds the database's deployment block (``Node._deploy_hash``): it does, no reset. Real
Hardhat, a real node and SQLite store, a real proxy on loopback (``tests/rpcfault.py``). The
same at the watcher's first poll (``Watcher._reset``: ``told``). And a reset's mark
(``rejudge_due``) cleared only once the walk's rows are committed (a real SQLite trigger
refuses one)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled
from tests.rpcfault import Calls, Gate, flapping_proxy, gated_proxy
from tests.test_mirror import revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


def _statuses(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT status FROM settlements ORDER BY nonce")]
    finally:
        conn.close()


async def test_one_flapped_deploy_block_hash_at_start_resets_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    raws: list[str] = []

    def sent(calls: Calls) -> bool:  # (the raw transactions the node sends, noted)
        for call in calls:
            if str(call.get("method", "")).startswith("eth_sendRawTransaction"):
                raws.append(str(call["params"][0]))  # type: ignore[index]
        return False

    noting = Gate(sent)
    noting.armed.set()
    with gated_proxy(c.rpc.url, [noting]) as url:
        await _settle(replace(cfg, rpc=url), maker, taker)
    # a kill after the settlement mined, before its row said so: pending at the next start
    conn = sqlite3.connect(cfg.db)
    conn.execute("UPDATE settlements SET status='pending', raw_tx=?", (raws[-1],))
    conn.commit()
    conn.close()
    with flapping_proxy(c.rpc.url, cfg.deploy_block, "0x" + "ab" * 32) as (url, told):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert told == [1]  # (the one wrong answer was given)
            assert _statuses(cfg.db) == ["mined"]  # (was "dropped": the reset gave it up)
            assert not node.store.rejudge_due and node.watcher.resets == 0
            assert node.watcher.identity.deploy_block_hash.lower() != "0x" + "ab" * 32
            assert await api.status(maker) == "filled"
            assert (await api.get("/v1/fills"))[1]["total"] == 2


async def test_one_flapped_deploy_block_hash_at_the_first_poll_resets_nothing(
    chain: Chain, tmp_path: Path
) -> None:
    """A fresh store (or one a reset left without a head): the watcher's first poll asks
    whether the chain holds the deployment block it bound (``Watcher._deployed_here``); one
    answer of another hash made it reset the store (``_reset``, whose own read of that block
    gave the bound hash again), dropping the settlements signed since the start."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    # the start's read, then the first poll's: that one flaps
    with flapping_proxy(c.rpc.url, cfg.deploy_block, "0x" + "cd" * 32, at=2) as (url, told):
        async with running_node(replace(cfg, rpc=url)) as (node, _):

            async def polled() -> bool:
                head = int(c.rpc.call("eth_blockNumber"), 16)
                return told == [1] and node.watcher.block >= head

            await wait_for(polled, timeout=30)
            assert node.watcher.resets == 0 and node.watcher.resets_begun == 0
            assert not node.store.rejudge_due


async def test_a_refused_row_of_the_starts_rejudging_leaves_it_due(
    chain: Chain, tmp_path: Path
) -> None:
    """The start's walk of a reset (``rejudge_due``): its marker was cleared whatever became
    of the rows the walk wrote (each write its own savepoint): one refused, the order kept
    the old chain's ``filled`` for good, the next start walking nothing. A real SQLite
    trigger refuses that row's update."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    order = c.sign(ask(c, ALICE, E18, 3000 * E6))  # (closed ``filled``: the chain has 0)
    deployed = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)["hash"]
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, deployed), c.domain)
    store.add_order(order, 1, "filled", "api")
    store.close()
    conn = sqlite3.connect(cfg.db)
    conn.execute("INSERT INTO meta VALUES ('rejudge_due', '1')")
    conn.execute(
        "CREATE TRIGGER refuse BEFORE UPDATE ON orders BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    conn.commit()
    conn.close()
    async with running_node(cfg) as (node, _):
        await wait_for(lambda: not node.rejudging, timeout=60)  # (walked once ready: reset74)
        assert node.store.rejudge_due  # (was cleared)
    conn = sqlite3.connect(cfg.db)
    try:
        due = conn.execute("SELECT value FROM meta WHERE key='rejudge_due'").fetchall()
        status = conn.execute("SELECT status FROM orders").fetchall()
    finally:
        conn.close()
    assert status == [("filled",)]  # (the row refused: as it was)
    assert due == [("1",)]  # due again at the next start (was cleared)


async def test_a_refused_row_of_a_running_resets_rejudging_leaves_it_due(
    chain: Chain, tmp_path: Path
) -> None:
    """A reset while the node runs: its mark was cleared after the walk whatever became of
    the block's rows (queued after them, each write its own savepoint): one refused (written
    again with the next block, from memory), a kill then left that order as the old chain
    had it for good, the next start walking nothing. Real Hardhat (``evm_revert`` below every
    kept block), a real SQLite trigger refusing the row."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", new_heads=False, reorg_depth=2)
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_order(maker))[0] == 201
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        await settled(c, node, api, taker)
        assert await api.status(maker) == "filled"
        c.rpc.call("hardhat_mine", hex(4))
        await synced(node, c)
        refuse = sqlite3.connect(cfg.db)
        refuse.execute(
            "CREATE TRIGGER refuse BEFORE UPDATE ON orders WHEN OLD.hash = ? AND NEW.status"
            " != OLD.status BEGIN SELECT RAISE(ABORT, 'refused'); END".replace(
                "?", f"'{maker.hash_hex.lower()}'"
            )
        )
        refuse.commit()
        refuse.close()
        w = node.watcher
        revert(c, snap)  # the settlement undone, no kept block left: a reset
        c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
        c.rpc.call("hardhat_mine", hex(6))
        await wait_for(
            lambda: w.resets >= 1 and maker.hash_hex.lower() in node.registry._unstored, timeout=60
        )
        node.store.pending_settlements()  # (through the writer: what was queued, committed)
        conn = sqlite3.connect(cfg.db)
        try:
            due = conn.execute("SELECT value FROM meta WHERE key='rejudge_due'").fetchall()
        finally:
            conn.close()
        assert due == [("1",)]  # (was cleared: the refused row's order judged by nobody)


async def _settle(cfg: NodeConfig, maker: SignedOrder, taker: SignedOrder) -> None:
    """``maker`` and ``taker`` matched and settled by a node on ``cfg``."""
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(maker))[0] == 201
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body

        async def settled() -> bool:
            return await api.status(maker) == "filled" and _statuses(cfg.db) == ["mined"]

        await wait_for(settled, timeout=30)
