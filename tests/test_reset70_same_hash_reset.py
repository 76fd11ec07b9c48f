"""reset70: a chain reset that keeps the deployment block's hash (a reorg deeper than every
kept block, an ``evm_revert`` below them, a devnet restarted within the same second) must
move the send path's view of the chain as one that changes the hash does (resend68): a
settlement signed for the old chain, waiting its turn behind a send under way while the
watcher reset (``Store.reset_chain`` marked its row dropped, the reset re-judges its
orders), is never sent. The view was the deployment block and its hash only: unchanged, the
old chain's settlement went out. Real Hardhat (the suite's chain, ``evm_snapshot`` /
``evm_revert``), resend68's loopback proxy holding the first send's answer, a real node and
SQLite store. And after such a reset, a soft cancel names the new chain's nonce."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import settled, soft_cancel
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_reorg60_reset_inflight import nonce
from tests.test_resend67_replaced_chain import HOLD, held_served
from tests.test_resend68_replaced_chain import (
    SENDS,
    a_send,
    holding_proxy,
    queued_behind_held,
    tx_hash,
)


async def test_a_queued_settlement_is_not_sent_after_a_reset_that_kept_the_deployment_block(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    upstream = node_config(c, db).rpc
    async with holding_proxy(upstream, a_send) as proxy:
        cfg = node_config(c, db, rpc=proxy.url, new_heads=False, max_batch=1, reorg_depth=2)
        async with running_node(cfg) as (node, api):
            w, settler = node.watcher, node.settler
            settler.broadcaster.sync = False  # (plain sends: the held one waits)
            deployed = w.identity.deploy_block_hash
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            pairs = await queued_behind_held(c, api, proxy, settler)
            revert(c, snap)  # no kept block (2 deep) on the new branch: a reset
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(6))
            await wait_for(lambda: w.resets >= 1, timeout=60)
            assert w.identity.deploy_block_hash == deployed  # (the same deployment block)
            before = len(proxy.sent)
            with sqlite3.connect(db) as raw:
                rows = dict(raw.execute("SELECT tx_hash, status FROM settlements").fetchall())
            assert sorted(rows.values()) == ["dropped", "dropped"], rows
            proxy.release.set()
            await wait_for(lambda: settler.idle.is_set(), timeout=60)
            c.rpc.call("evm_mine")
            await synced(node, c)
            await wait_for(lambda: settler.idle.is_set(), timeout=60)
            after = {tx_hash(r) for _, r in proxy.sent[before:]}
            old = {str(t).lower() for t in rows}
            assert not old & after  # the old chain's settlement never sent
            for tx in old:
                assert c.rpc.call("eth_getTransactionByHash", tx) is None
            for resting, _ in pairs:
                assert c.exchange.order_info(resting.order).filled == 0
                assert await api.status(resting) == "open"


async def test_a_soft_cancel_after_a_reset_names_the_new_chains_nonce(
    chain: Chain, tmp_path: Path
) -> None:
    """After a reset, before the lane signs again (its next nonce not known), a soft cancel
    names ``Sender.signed_past``: it kept the old chain's, past the new chain's count, so a
    settlement the node then signed at the new chain's nonce was excused by ``sdex audit``
    (``node_settled_after_cancel``: nonce at or above the one named). It is the new chain's
    count now."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", reorg_depth=2)
    operator = c.address(19)
    async with running_node(cfg) as (node, api):
        await synced(node, c)
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("hardhat_mine", hex(4))
        count = nonce(c.rpc, operator, "pending")
        for _ in range(2):  # two settlements on the chain the reset replaces
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await api.post_order(resting))[0] == 201
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await settled(c, node, api, taker)
        assert node.sender.signed_past == count + 2
        kept = c.sign(ask(c, ALICE, E18, 4000 * E6))
        assert (await api.post_order(kept))[0] == 201
        revert(c, snap)  # no kept block (2 deep) on the new branch: a reset
        c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
        c.rpc.call("hardhat_mine", hex(6))
        await wait_for(lambda: node.watcher.resets >= 1, timeout=60)
        await synced(node, c)
        assert nonce(c.rpc, operator, "pending") == count  # (the new chain's)
        assert not node.store.rejudge_due  # (the reset's re-judging done: not at a start)
        assert node.sender.next_nonce is None  # (nothing signed since: signed_past named)
        await soft_cancel(c, api, kept, ALICE)
        assert (await meta(api, kept))["cancelledAtNonce"] == count  # (was count + 2)


async def test_a_timed_out_sync_send_is_not_sent_again_after_a_reset_that_kept_the_block(
    chain: Chain, tmp_path: Path
) -> None:
    """A sync send that timed out is sent again if the chain does not know it, only on the
    chain the view had at the send (``AsyncSends.on_chain``: resend67): a reset in between
    that kept the deployment block's hash had it sent again to the chain that replaced it,
    where its nonce was free: the old chain's match settled there. The proxy answers the
    sync send late (a slow endpoint) and holds the node's ask whether the chain knows it
    until the watcher has reset."""
    c = chain
    release = asyncio.Event()
    held: list[str] = []  # (the sync send's hash, once forwarded)
    sent: list[str] = []  # every send's raw transaction forwarded
    asked: list[str] = []  # the node's asks of the held one
    session = aiohttp.ClientSession()
    upstream = node_config(c, tmp_path / "n.db").rpc

    async def forward(msg: Any) -> Any:
        async with session.post(upstream, json=msg) as r:
            return json.loads(await r.read())

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        calls = [x for x in (msg if isinstance(msg, list) else [msg]) if isinstance(x, dict)]
        sent.extend(str(x["params"][0]) for x in calls if x.get("method") in SENDS)
        if isinstance(msg, dict) and msg.get("method") == "eth_sendRawTransactionSync":
            answer = await forward(dict(msg, method="eth_sendRawTransaction"))
            held.append(str(answer["result"]))
            await asyncio.wait_for(release.wait(), HOLD)  # (the node's wait ends first)
            return web.json_response(answer)
        if any(x.get("params") == held[-1:] for x in calls if held):
            asked.append(str(calls[0].get("method")))  # (after its timeout: held)
            await asyncio.wait_for(release.wait(), HOLD)
        return web.json_response(await forward(msg))

    async with held_served(handle, release, session) as url:
        cfg = node_config(c, tmp_path / "n.db", rpc=url, new_heads=False, reorg_depth=2)
        async with running_node(cfg) as (node, api):
            w = node.watcher
            await synced(node, c)
            snap = c.rpc.call("evm_snapshot")
            c.rpc.call("hardhat_mine", hex(4))
            await synced(node, c)
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await api.post_order(resting))[0] == 201
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            code, body = await api.post_order(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: held)  # sent, its answer held: the node's wait timed out,
            await wait_for(lambda: asked)  # then it asks whether the chain knows it
            assert asked == ["eth_getTransactionByHash"], asked
            revert(c, snap)  # no kept block (2 deep) on the new branch: a reset
            c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
            c.rpc.call("hardhat_mine", hex(6))
            await wait_for(lambda: w.resets >= 1, timeout=60)
            before = len(sent)
            release.set()
            await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
            c.rpc.call("evm_mine")
            await synced(node, c)
            await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
            assert held[0] not in {tx_hash(r) for r in sent[before:]}  # never sent again
            assert c.rpc.call("eth_getTransactionByHash", held[0]) is None
            assert c.exchange.order_info(resting.order).filled == 0
            assert await api.status(resting) == "open"
