"""resend68: a settlement signed for the old chain, waiting its turn in the lane's queue
behind a send under way, while the watcher sees the chain behind the URL replaced (a new
chain, the same chain id, the Exchange at the same address: ``Store.reset_chain`` drops its
row), must not be sent to the new chain as its first send: it would settle an old chain's
match there (its orders maybe unfunded there, the operator paying). Real chains of the
suite's engine (resend67's pair), a real loopback proxy in front that holds the first send's
answer until the test switches it to the new chain and the watcher has reset, a real node
and SQLite store."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eth_hash.auto import keccak

from sdex.chainnode import Engine
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.settlement import Settler
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_chain_outage import OwnChain
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_reset_inflight import nonce
from tests.test_resend67_replaced_chain import HOLD, held_served, new_chain_mined, replacing

SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")


Calls = list[dict[str, Any]]


def a_send(calls: Calls) -> bool:
    return any(c.get("method") in SENDS for c in calls)


@dataclass
class HoldingProxy:
    """Forwards to ``upstream``; the first request ``when`` picks goes to the chain at once
    (every send in it as a plain one: never held by the chain), then the upstream becomes
    ``then`` if given (the chain behind the URL replaced), its answer held until
    ``release``. ``sent``: (upstream, raw) of every send forwarded."""

    upstream: str
    when: Callable[[Calls], bool]
    then: str | None = None
    url: str = ""
    held: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)
    sent: list[tuple[str, str]] = field(default_factory=list)


@asynccontextmanager
async def holding_proxy(
    upstream: str, when: Callable[[Calls], bool], then: str | None = None
) -> AsyncIterator[HoldingProxy]:
    proxy = HoldingProxy(upstream, when, then)
    session = aiohttp.ClientSession()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        calls = [c for c in (msg if isinstance(msg, list) else [msg]) if isinstance(c, dict)]
        hold = not proxy.held and proxy.when(calls)
        proxy.held |= hold
        for c in calls:
            if c.get("method") in SENDS:
                c["method"] = "eth_sendRawTransaction"  # (answered at once: held here instead)
                proxy.sent.append((proxy.upstream, str(c["params"][0])))
        async with session.post(proxy.upstream, json=msg) as r:
            body = await r.read()
        if hold:
            proxy.upstream = proxy.then or proxy.upstream
            await asyncio.wait_for(proxy.release.wait(), HOLD)
        return web.Response(body=body, content_type="application/json")

    async with held_served(handle, proxy.release, session) as proxy.url:
        yield proxy


def tx_hash(raw: str) -> str:
    return "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()


async def test_a_queued_settlement_is_not_sent_after_the_chain_was_replaced(
    tmp_path: Path, engine: Engine
) -> None:
    old, new, c, c2 = replacing(engine)
    try:
        async with holding_proxy(old.node.url, a_send) as proxy:
            cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False, max_batch=1)
            async with running_node(cfg) as (node, api):
                settler = node.settler
                settler.broadcaster.sync = False  # (plain sends: the held one waits 30 s)
                pairs = await queued_behind_held(c, api, proxy, settler)
                proxy.upstream = new.node.url  # the chain behind the URL replaced
                await wait_for(lambda: node.watcher.resets >= 1, timeout=60)
                proxy.release.set()
                await new_chain_mined(new, node)
                await none_sent_there(tmp_path / "n.db", proxy, new, c2, api, pairs, 2)
    finally:
        old.stop()
        new.stop()


async def queued_behind_held(
    c: Chain, api: Api, proxy: HoldingProxy, settler: Settler
) -> list[tuple[SignedOrder, SignedOrder]]:
    """Two matches (a resting ask, an IOC bid), settled one a batch: the first's send held by
    ``proxy``, the second signed and queued behind it; their (resting, taker) pairs."""
    pairs = []
    for base in (E18, 2 * E18):
        resting = c.sign(ask(c, ALICE, base, 3000 * base // E18 * E6))
        assert (await api.post_order(resting))[0] == 201
        taker = c.sign(bid(c, BOB, base, 3000 * base // E18 * E6))
        code, body = await api.post_order(taker, "ioc")
        assert code == 201 and len(body["matches"]) == 1, body
        pairs.append((resting, taker))
        await wait_for(lambda: proxy.held)  # (the first send under way, held)
    await wait_for(lambda: len(settler.in_flight) == 2)  # (the second queued behind it)
    return pairs


async def none_sent_there(
    db_path: Path, proxy: HoldingProxy, new: OwnChain, c2: Chain, api: Api,
    pairs: list[tuple[SignedOrder, SignedOrder]], rows: int | tuple[int, ...],
) -> None:  # fmt: skip
    """No settlement of the node's (``rows`` in its store, replacements too; a tuple: any of
    those counts) reached the new chain; ``pairs``' orders unfilled there and open again."""
    with sqlite3.connect(db_path) as db:
        ours = {str(r[0]).lower() for r in db.execute("SELECT tx_hash FROM settlements")}
    assert len(ours) in (rows if isinstance(rows, tuple) else (rows,)), ours
    to_new = {tx_hash(raw) for up, raw in proxy.sent if up == new.node.url}
    assert not ours & to_new  # never sent to the new chain
    for tx in ours:
        assert new.rpc.call("eth_getTransactionByHash", tx) is None
    for resting, taker in pairs:
        assert c2.exchange.order_info(resting.order).filled == 0
        assert c2.exchange.order_info(taker.order).filled == 0
        assert await api.status(resting) == "open"


async def pooled_match(
    c: Chain, old: OwnChain, node: Node, api: Api
) -> tuple[SignedOrder, SignedOrder]:
    """An ask, then an IOC bid crossing it: their settlement sent to ``old``, its mining
    paused, and pooled there (the operator's pending count past its latest, no send under
    way). (the ask, the bid)"""
    operator = c.address(19)
    deployed = nonce(old.rpc, operator)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    assert (await api.post_order(resting))[0] == 201
    old.rpc.call("evm_setAutomine", False)  # the settlement sent, pooled
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    code, body = await api.post_order(taker, "ioc")
    assert code == 201 and len(body["matches"]) == 1, body
    await wait_for(lambda: nonce(old.rpc, operator, "pending") > deployed)
    await wait_for(lambda: not node.settler.sends)
    return resting, taker


def replace_check(calls: Calls) -> bool:
    """``NonceLane._replace``'s ask whether the settlement is still pooled (and, since
    settle69, whether the chain holds the view's block)."""
    return [c.get("method") for c in calls][:2] == [
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
    ]


async def test_a_replacement_is_not_sent_after_the_chain_was_replaced(
    tmp_path: Path, engine: Engine
) -> None:
    """The chain replaced between ``_replace``'s check that the settlement is pooled (on the
    old chain) and the replacement's send: the old match at higher fees, at a nonce the new
    chain has free (both deployed alike), mined there."""
    if engine != "hardhat":
        pytest.skip("Hardhat keeps a pool its automine resumed over (anvil mines it)")
    old, new, c, c2 = replacing(engine)
    try:
        operator = c.address(19)
        deployed = nonce(new.rpc, operator)
        async with holding_proxy(old.node.url, replace_check, new.node.url) as proxy:
            cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
            async with running_node(cfg) as (node, api):
                resting, taker = await pooled_match(c, old, node, api)
                old.rpc.call("evm_setAutomine", True)  # (Hardhat mines nothing of its pool)
                await wait_for(lambda: proxy.held)  # pooled on the old chain, then replaced
                await wait_for(lambda: node.watcher.resets >= 1, timeout=60)
                proxy.release.set()
                await new_chain_mined(new, node)
                assert nonce(new.rpc, operator, "pending") == deployed
                # (its replacement signed, or not: fee87 believes no fee read after a reset
                # till the watcher read the new chain, so it may not be signed at all)
                await none_sent_there(
                    tmp_path / "n.db", proxy, new, c2, api, [(resting, taker)], (1, 2)
                )
    finally:
        old.stop()
        new.stop()


async def test_a_chain_replaced_during_the_start_is_a_reset_and_keeps_the_orders(
    tmp_path: Path, engine: Engine
) -> None:
    """The chain behind the URL replaced after the start read the deployment block (the
    store bound to it) and before the watcher, with no saved head, read from that block:
    followed with the old identity, no reset recorded, the next start found the store
    another chain's and deleted every order it held."""
    old, new, c, _ = replacing(engine)
    try:
        cfg = node_config(c, tmp_path / "n.db")
        block = hex(cfg.deploy_block)
        first = old.rpc.call("eth_getBlockByNumber", block, False)["hash"]
        store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, first), c.domain)
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        store.add_order(resting, 1, "open", "api")
        store.close()

        def identity_read(calls: Calls) -> bool:  # (the start's; the watcher's come later)
            return [(x.get("method"), x.get("params")) for x in calls] == [
                ("eth_getBlockByNumber", [block, False])
            ]

        async with holding_proxy(old.node.url, identity_read, new.node.url) as proxy:
            proxy.release.set()  # (switched at once, nothing held)
            async with running_node(replace(cfg, rpc=proxy.url, new_heads=False)) as (node, api):
                assert proxy.held and not node.store.rebuilt
                await new_chain_mined(new, node, resets=0)  # (the new chain's blocks read)
                await wait_for(lambda: node.watcher.block >= node.watcher.chain_head)
                resets = node.watcher.resets
                assert await api.status(resting) == "open"
        async with running_node(replace(cfg, rpc=new.node.url)) as (node, api):
            assert not node.store.rebuilt  # bound to the new chain by the reset
            assert await api.status(resting) == "open"
        assert resets == 1
    finally:
        old.stop()
        new.stop()


@contextmanager
def hardhat_replacing(engine: Engine) -> Iterator[tuple[OwnChain, OwnChain, Chain, Chain, int]]:
    """``replacing``'s two chains, on Hardhat only (it keeps a pool its automine resumed over;
    anvil mines it), and the operator's count on the new one; both stopped after."""
    if engine != "hardhat":
        pytest.skip("Hardhat keeps a pool its automine resumed over (anvil mines it)")
    old, new, c, c2 = replacing(engine)
    try:
        yield old, new, c, c2, nonce(new.rpc, c.address(19))
    finally:
        old.stop()
        new.stop()
