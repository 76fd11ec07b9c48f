"""review73: one answer of another hash for the deployment block, at a start, from an
endpoint that flapped (the chain not replaced): ``Store._bind`` took the chain for a replaced
one and made a reset of the store (reset70's, at open): its pending settlements given up
(``dropped``, one mined or pooled in fact: its orders matched again, a second settlement of
the same match signed, a paid revert), its fills dropped. The chain is asked whether it still
holds the database's deployment block (``Node._deploy_hash``): it does, no reset. Real
Hardhat, a real node and SQLite store, a real proxy on loopback (``tests/rpcfault.py``)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Calls, Gate, flapping_proxy, gated_proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


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


async def _settle(cfg: NodeConfig, maker: SignedOrder, taker: SignedOrder) -> None:
    """``maker`` and ``taker`` matched and settled by a node on ``cfg``."""
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(maker))[0] == 201
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body

        async def settled() -> bool:
            return await api.status(maker) == "filled" and _statuses(cfg.db) == ["mined"]

        await wait_for(settled, timeout=30)
