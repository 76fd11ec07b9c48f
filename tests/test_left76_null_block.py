"""A null answer for the deployment block (a backend of the RPC still below it) proves
nothing, to the sends as to the watcher (``sdex.watch.fork._redeployed``): left76. Before,
``AsyncSends.on_chain`` counted two nulls as "not held", so a settlement was given up as if
the chain had been replaced (``ChainReplaced``) on a chain that was only lagging. Real
Hardhat behind a real loopback proxy that answers null for that block."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import AsyncSends, ChainUnproven
from sdex.settlement import reconcile
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.rpcfault import nulling_proxy
from tests.test_reorg63_replaced_restart import stored_pair
from tests.test_resend67_replaced_chain import held_served
from tests.test_review73_reset_start import _statuses
from tests.test_settle65_adopt_ioc import stored_pooled


@pytest.mark.parametrize("lagging", [False, True])
async def test_a_null_deployment_block_proves_no_other_chain(chain: Chain, lagging: bool) -> None:
    """Null twice: ``ChainUnproven`` (was False: "replaced"); the block itself: held."""
    c = chain
    number = c.deployment.deploy_block
    view = (number, c.rpc.call("eth_getBlockByNumber", hex(number), False)["hash"], 0)
    with nulling_proxy(c.rpc.url, number, at=1 if lagging else 2**62) as (url, told):
        rpc = AsyncRpc(url)
        try:
            sends = AsyncSends(rpc, c.sender(1))
            sends.view = lambda: view
            if lagging:
                with pytest.raises(ChainUnproven, match=f"no block {number}"):
                    await sends.on_chain(view)
            else:
                assert await sends.on_chain(view) is True
        finally:
            await rpc.close()
    assert told == [2 if lagging else 0]


async def test_a_null_deployment_block_at_reconcile_gives_up_nothing(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement a previous run left pooled (mining paused); the start's reconcile would
    send it again only on the chain the node's view holds, and the RPC answers null for the
    deployment block from then on (the start's own read answered). Not sent, nothing given
    up: it is adopted, pooled, as on a chain that answers (was "dropped": ``ChainReplaced``,
    its matches free to be signed again while it stayed pooled)."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path)
    tx = await stored_pooled(c, store, resting, incoming)
    try:
        with nulling_proxy(c.rpc.url, cfg.deploy_block, at=2) as (url, told):
            async with running_node(replace(cfg, rpc=url)) as (node, _):
                assert told[0] >= 2
                assert node.watcher.resets == 0
                assert _statuses(cfg.db) == ["pending"]  # (was "dropped": given up)
                assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
    finally:
        c.rpc.call("evm_setAutomine", True)


async def test_a_timed_out_sync_send_on_a_lagging_backend_is_polled_not_given_up(
    chain: Chain,
) -> None:
    """A sync send the chain takes, its answer late (past the send's wait), asked after at a
    backend still below the deployment block: it knows no such transaction and answers null
    for the block. Not sent again, not given up: (None, None), its receipt polled, and it
    landed (was ``ChainReplaced``: the settlement given up, its orders re-judged as if the
    chain were replaced, while it landed)."""
    c = chain
    number = c.deployment.deploy_block
    view = (number, c.rpc.call("eth_getBlockByNumber", hex(number), False)["hash"], 0)
    session = aiohttp.ClientSession()
    release = asyncio.Event()
    seen: list[str] = []

    async def forward(msg: Any) -> bytes:
        async with session.post(c.rpc.url, json=msg) as r:
            return await r.read()

    async def handle(request: web.Request) -> web.StreamResponse:
        msg: Any = json.loads(await request.read())
        method, params = str(msg.get("method")), msg.get("params") or [None]
        seen.append(method)
        if method == "eth_sendRawTransactionSync":  # (taken: its answer late)
            body = await forward(dict(msg, method="eth_sendRawTransaction"))
            async with asyncio.timeout(60):
                await release.wait()
            return web.Response(body=body, content_type="application/json")
        lagging = method == "eth_getTransactionByHash" or (
            method == "eth_getBlockByNumber" and params[0] == hex(number)
        )
        if lagging:
            return web.json_response({"jsonrpc": "2.0", "id": msg.get("id"), "result": None})
        return web.Response(body=await forward(msg), content_type="application/json")

    async with held_served(handle, release, session) as url:
        rpc = AsyncRpc(url)
        try:
            sends = AsyncSends(rpc, c.sender(1))
            sends.view = lambda: view
            signed = sends.sender.sign(c.address(2), b"", 21_000)
            assert await sends.broadcast_sync(signed, timeout=0.5) == (None, None)
        finally:
            await rpc.close()
    assert seen.count("eth_sendRawTransaction") == 0  # (not sent again)
    assert seen.count("eth_getBlockByNumber") == 2
    await wait_for(lambda: c.rpc.call("eth_getTransactionReceipt", signed.tx_hash), 10.0)
