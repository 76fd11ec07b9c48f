"""review28: a settlement answered "nonce too low" although it landed is not signed again.

settle28 signs a batch again when the chain refuses its send for a nonce too low (another
sender used the operator's key). The same answer comes for the node's own transaction when
its bytes reach the chain twice: an RPC proxy that retries a send whose first answer it lost
(or the broadcaster's own second send after a failed ``eth_sendRawTransactionSync``), the
first copy mined. The batch was then signed again, up to ``NONCE_TRIES`` times, each copy
sent through the same endpoint: the same matches sent on chain again (each later copy
reverting on the operator's gas), the landed one recorded ``dropped``.

Here a loopback proxy in front of Hardhat sends every raw transaction twice and answers
with the second answer.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from sdex.chain.exchange import OrderStatus
from sdex.node.config import NodeConfig
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, serving, wait_for
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")


def retrying_proxy(upstream: str) -> web.Application:
    """JSON-RPC to ``upstream``; a raw transaction sent twice, the second answer returned
    (a proxy that retried a send whose first answer it lost)."""

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        session: aiohttp.ClientSession = request.app[SESSION]
        msg: Any = json.loads(body)
        calls = msg if isinstance(msg, list) else [msg]
        sends = [c for c in calls if isinstance(c, dict) and c.get("method") in SENDS]
        for c in sends:  # the first copy: its answer lost
            plain = dict(c, method="eth_sendRawTransaction")
            async with session.post(upstream, json=plain) as r:
                await r.read()
        async with session.post(
            upstream, data=body, headers={"Content-Type": "application/json"}
        ) as r:
            return web.Response(body=await r.read(), content_type="application/json")

    async def session_ctx(app: web.Application) -> Any:
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app = web.Application()
    app.router.add_post("/", forward)
    app.cleanup_ctx.append(session_ctx)
    return app


SESSION = web.AppKey("session", aiohttp.ClientSession)


async def test_a_landed_settlement_answered_nonce_too_low_is_not_sent_again(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with serving(retrying_proxy(c.deployment.rpc)) as proxy:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=19), rpc=proxy + "/")
        sent, settler, taker = await one_match(c, cfg)
    assert sent == 1, f"{sent} transactions for one match"
    assert settler.nonce_refusals == 0
    assert settler.settled == 1 and settler.failed == 0
    assert taker == "filled"


async def one_match(c: Chain, cfg: NodeConfig) -> tuple[int, Any, str]:
    """One crossing pair posted to a node on ``cfg`` (operator #19), settled: the operator's
    transactions it took, the node's settler, the taker's status at the node."""
    async with running_node(cfg) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        settler = node.settler
        before = int(c.rpc.call("eth_getTransactionCount", c.address(19), "latest"), 16)
        resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
        taker = c.sign(bid(c, BOB, E18, 3000 * E6))
        assert (await api.post_order(resting))[0] == 201
        assert (await api.post_order(taker))[0] == 201
        await wait_for(lambda: settler.settled + settler.failed + settler.lost >= 1)
        await wait_for(lambda: settler.idle.is_set())
        await wait_for(lambda: _status(c, taker) is OrderStatus.FILLED)
        after = int(c.rpc.call("eth_getTransactionCount", c.address(19), "latest"), 16)
        return after - before, settler, await api.status(taker)


def _status(c: Chain, signed: Any) -> OrderStatus:
    return c.exchange.order_info(signed.order).status
