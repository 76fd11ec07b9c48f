"""Persistence: kill -9 during a stream of posts, settlement reconciliation, another chain."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import (
    free_port,
    healthy,
    node_config,
    node_process,
    running_node,
    wait_for,
    with_minimums,
)
from tests.rpcfault import Answer, _errors, _proxy
from tests.test_node import ALICE, BOB, DAVE, E6, E18, ask, bid

OPERATOR = 19


async def _healthy(
    session: aiohttp.ClientSession, base: str, proc: subprocess.Popen[bytes]
) -> bool:
    """``nodeutil.healthy``: this node process listens on ``base``, ``/health`` answers."""
    return await healthy(session, base, proc)


def _resting_orders(c: Chain, n: int, seed: int) -> list[SignedOrder]:
    """``n`` orders of 15 makers, asks above 3000 and bids below: nothing crosses, all rest."""
    rng = random.Random(seed)
    orders: list[SignedOrder] = []
    for i in range(n):
        maker = 1 + i % 15
        if i % 2:
            orders.append(c.sign(ask(c, maker, E18, (3001 + rng.randrange(500)) * E6)))
        else:
            orders.append(c.sign(bid(c, maker, E18, (2999 - rng.randrange(500)) * E6)))
    return orders


async def _post_all(
    session: aiohttp.ClientSession, base: str, work: Iterator[SignedOrder], acked: list[SignedOrder]
) -> None:
    """Post orders taken from ``work`` one at a time; record the acknowledged (2xx) ones."""
    for s in work:
        try:
            async with session.post(base + "/v1/orders", json=s.to_json()) as r:
                if r.status in (200, 201):
                    acked.append(s)
        except aiohttp.ClientError:
            return  # the node is gone


async def test_kill_9_during_posts_loses_no_acknowledged_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    deployment = tmp_path / "devnet.json"
    c.deployment.save(deployment)
    db, port, log = tmp_path / "node.db", free_port(), tmp_path / "node.log"
    base = f"http://127.0.0.1:{port}"
    orders = _resting_orders(c, 400, seed=7)
    acked: list[SignedOrder] = []
    async with aiohttp.ClientSession() as session:
        with node_process(c, deployment, db, port, OPERATOR, log) as proc:
            await wait_for(lambda: _healthy(session, base, proc), timeout=120)

            async def stream() -> None:
                await _post_all(session, base, iter(orders), acked)

            poster = asyncio.create_task(stream())
            await wait_for(lambda: len(acked) >= 60, timeout=60)
            proc.kill()  # SIGKILL, by its own PID, while posts are in flight
            proc.wait(timeout=10)
            await asyncio.wait_for(poster, 30)
        assert 60 <= len(acked) < len(orders)

        with node_process(c, deployment, db, port, OPERATOR, log) as proc:
            await wait_for(lambda: _healthy(session, base, proc), timeout=120)
            for s in acked:
                async with session.get(f"{base}/v1/orders/{s.hash_hex}") as r:
                    assert r.status == 200, s.hash_hex
                    rec = await r.json()
                assert rec["metaData"]["status"] == "open"
            async with session.get(
                base + "/v1/orderbook",
                params={"baseToken": c.weth.address, "quoteToken": c.usdc.address, "perPage": 1},
            ) as r:
                book = await r.json()
            assert book["bids"]["total"] + book["asks"]["total"] >= len(acked)


async def test_kill_9_during_concurrent_posts_loses_no_group_committed_order(
    chain: Chain, tmp_path: Path
) -> None:
    """Many posts in flight at once share transactions (group commit); a SIGKILL while
    groups are being committed loses none that was answered 2xx."""
    c = chain
    deployment = tmp_path / "devnet.json"
    c.deployment.save(deployment)
    db, port, log = tmp_path / "node.db", free_port(), tmp_path / "node.log"
    base = f"http://127.0.0.1:{port}"
    orders = _resting_orders(c, 1200, seed=11)
    acked: list[SignedOrder] = []
    work = iter(orders)
    stats: dict[str, int] = {}
    conn = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=conn) as session:
        with node_process(c, deployment, db, port, OPERATOR, log) as proc:
            await wait_for(lambda: _healthy(session, base, proc), timeout=120)

            async def stream() -> None:
                await _post_all(session, base, work, acked)

            posters = [asyncio.create_task(stream()) for _ in range(48)]

            async def grouped() -> bool:
                async with session.get(base + "/health") as r:
                    stats.update((await r.json())["store"])
                return len(acked) >= 300 and stats["largestGroup"] > 1

            await wait_for(grouped, timeout=120)
            proc.kill()  # SIGKILL, by its own PID, with 48 posts in flight
            proc.wait(timeout=10)
            await asyncio.wait_for(asyncio.gather(*posters), 30)
        # the writer grouped concurrent orders: fewer transactions than jobs
        assert stats["commits"] < stats["jobs"], stats
        assert 300 <= len(acked) < len(orders)

        with node_process(c, deployment, db, port, OPERATOR, log) as proc:
            await wait_for(lambda: _healthy(session, base, proc), timeout=120)
            missing = []
            for s in acked:
                async with session.get(f"{base}/v1/orders/{s.hash_hex}") as r:
                    if r.status != 200:
                        missing.append(s.hash_hex)
                        continue
                    rec = await r.json()
                assert rec["metaData"]["status"] == "open"
            assert missing == []
    with sqlite3.connect(db) as conn_db:
        stored = {h for (h,) in conn_db.execute("SELECT hash FROM orders")}
    assert {s.hash_hex for s in acked} <= stored


async def _left_by_a_dead_node(
    c: Chain, cfg: Any, incoming_status: str, tif: str
) -> tuple[SignedOrder, SignedOrder, Any]:
    """What a node that died after recording a signed settlement left behind: both orders
    stored (the incoming one as ``incoming_status``), the settlement signed and recorded."""
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(resting, 1, "open", "api")
    store.add_order(incoming, 2, incoming_status, "api", tif=tif)
    data = c.exchange.encode_settlement([(resting, incoming, E18)])
    signed = c.sender(OPERATOR).sign(c.exchange.address, data)
    await asyncio.wrap_future(
        store.add_settlement(
            signed.tx_hash, signed.nonce, signed.raw, [(resting.hash_hex, incoming.hash_hex)]
        )
    )
    store.close()
    return resting, incoming, signed


async def test_pending_settlement_is_reconciled_at_restart(chain: Chain, tmp_path: Path) -> None:
    """A node died after recording a signed settlement and before broadcasting it."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, incoming, _ = await _left_by_a_dead_node(c, cfg, "open", "gtc")

    async with running_node(cfg) as (node, api):
        assert await api.status(resting) == "filled"
        assert await api.status(incoming) == "filled"
        assert c.exchange.order_info(resting.order).filled == E18
        assert node.store.pending_settlements() == []

        async def fills_seen() -> bool:
            _, fills = await api.get("/v1/fills")
            return int(fills["total"]) == 2

        await wait_for(fills_seen)
        _, fills = await api.get("/v1/fills")
        assert all(f["settledByThisNode"] for f in fills["records"])
        assert node.settler.sent == 0  # nothing was settled a second time

    # and a second restart changes nothing: the settlement is not sent again
    async with running_node(cfg) as (node, api):
        assert node.settler.sent == 0
        assert c.exchange.order_info(resting.order).filled == E18


async def test_database_of_another_chain_is_rebuilt(chain: Chain, tmp_path: Path) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    other = "0x" + "ee" * 20  # (reset70: another Exchange; the same one keeps its orders)
    stale = Store(cfg.db, ChainIdentity(cfg.chain_id, other, "0x" + "ee" * 32), c.domain)
    stale.add_order(c.sign(ask(c, ALICE, E18, 3000 * E6)), 1, "open", "api")
    stale.close()
    async with running_node(cfg) as (node, api):
        assert node.store.rebuilt
        _, page = await api.get("/v1/orders")
        assert page["total"] == 0 and len(node.book) == 0
    with sqlite3.connect(cfg.db) as db:
        assert db.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0


async def test_an_order_left_with_dust_is_closed_when_it_is_reloaded(
    chain: Chain, tmp_path: Path
) -> None:
    """Review finding: an open order whose remainder became dust while the node was down
    (less than one whole unit at its price, below the token's minimum) was put back in the
    book, which dropped it, and its record stayed open, counted and offered to peers. It is
    now closed as filled. (Without a minimum it rests all or nothing at its cost: dust38.)"""
    c = chain
    cfg = with_minimums(node_config(c, tmp_path / "n.db"), c, weth=3, usdc=1)
    dust = c.sign(ask(c, ALICE, 3, 2))  # a unit is 3 wei at its price
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    store.add_order(dust, 1, "open", "api")
    store.close()
    c.exchange.fill_order(c.sender(BOB), dust, 1)  # 2 left: not one unit, below 3
    async with running_node(cfg) as (node, api):
        assert await api.status(dust) == "filled"
        rec = node.records[dust.hash]
        assert not rec.announced and dust.hash not in node.book


async def test_a_pending_settlement_given_up_at_restart_is_applied_when_it_lands(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dead node's settlement sits in the chain's pool, unmined, at restart: sending it
    again is answered "already known" and its receipt does not come in time, so it is
    given up. When it lands after all, its fills are applied as anyone's (the resting order
    ends filled), not left to a settler outcome that never comes. (The taker was an
    immediate-or-cancel order, closed: nothing is matched again at restart.)"""
    # (unmined until the test mines it: the wait ends the same whatever its length)
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, _, signed = await _left_by_a_dead_node(c, cfg, "removed", "ioc")
    c.rpc.call("evm_setAutomine", False)
    try:
        c.rpc.call("eth_sendRawTransaction", signed.raw)  # broadcast before the node died
        async with running_node(cfg) as (node, api):
            assert node.store.pending_settlements() == []  # judged at start: dropped
            assert await api.status(resting) == "open"
            assert node.settler.sent == 0
            c.rpc.call("evm_mine")  # it lands after all

            async def filled() -> bool:
                return await api.status(resting) == "filled"

            await wait_for(filled)
            assert c.exchange.order_info(resting.order).filled == E18

            async def listed() -> bool:  # (what is committed: a moment after the status)
                _, fills = await api.get("/v1/fills", orderHash=resting.hash_hex)
                return int(fills["total"]) == 1

            await wait_for(listed)
            assert node.settler.sent == 0
    finally:
        c.rpc.call("evm_setAutomine", True)


@contextlib.contextmanager
def calls_unanswered(upstream: str, data: bytes) -> Iterator[str]:
    """The URL of a proxy to ``upstream`` answering with errors any request (one, or a batch)
    holding an ``eth_call`` of ``data`` (the restart's look at a pending row: unanswered)."""
    wanted = "0x" + data.hex()

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        for call in calls:
            if not isinstance(call, dict) or call.get("method") != "eth_call":
                continue
            params = call.get("params")
            first = params[0] if isinstance(params, list) and params else None
            if isinstance(first, dict) and first.get("data") == wanted:
                return 200, json.dumps(_errors(req)).encode()
        return None

    with _proxy(upstream, intercept) as url:
        yield url


@pytest.mark.parametrize("looked", [True, False])
async def test_a_pending_settlement_that_reverts_when_sent_again_is_failed_not_dropped(
    chain: Chain, tmp_path: Path, looked: bool
) -> None:
    """Review finding: the dead node's recorded lone settlement, sent again at restart,
    reverts (its maker's funds left meanwhile). Hardhat mines it and answers the send with
    the revert: it used its nonce, so it is ``failed`` (its receipt says so), not given up
    as ``dropped`` as if it had never gone. Since settle81 the restart looks at the row's
    call first (``looked``): it would revert, so it is never sent, ``dropped``, its nonce
    given back; only a row whose call is not answered is sent again, and fails so."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    resting, _, signed = await _left_by_a_dead_node(c, cfg, "removed", "ioc")
    maker = c.address(ALICE)
    c.weth.transfer(c.sender(ALICE), c.address(DAVE), c.weth.balance_of(maker))
    operator = c.address(OPERATOR)
    count = c.rpc.call("eth_getTransactionCount", operator, "latest")
    assert signed.body is not None
    with calls_unanswered(c.rpc.url, signed.body[1]) as url:
        async with running_node(cfg if looked else replace(cfg, rpc=url)) as (node, _api):
            assert node.store.pending_settlements() == []
            assert node.settler.sent == 0
    receipt = c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
    if looked:
        assert receipt is None  # (never sent: nothing paid)
        assert c.rpc.call("eth_getTransactionCount", operator, "latest") == count
    else:
        assert receipt is not None and int(receipt["status"], 16) == 0
    with sqlite3.connect(cfg.db) as db:
        (status,) = db.execute(
            "SELECT status FROM settlements WHERE tx_hash = ?", (signed.tx_hash,)
        ).fetchone()
    assert status == ("dropped" if looked else "failed")
    assert c.exchange.order_info(resting.order).filled == 0
