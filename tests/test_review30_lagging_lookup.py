"""review30: a landed settlement answered "nonce too low" is not signed again when the
endpoint that is asked whether it holds it lags.

settle28 signs a batch again when the chain refuses its send for a nonce too low and
``eth_getTransactionByHash`` does not find it (review28: found, it is our own copy). The
copy is not the same bytes: it is signed at the chain's count, a new nonce, and carries the
same matches. Behind a load balancer, the backend asked for the hash may lag the one that
refused the send (it has not seen the block where our transaction landed): null, and the
landed batch was signed again (and recorded ``dropped``): the same matches on chain twice.

Here a loopback proxy in front of Hardhat sends every raw transaction twice (the answer is
the second's, "nonce too low") and answers as a lagging backend would when asked for a
hash: not found, and in the same request the sender's count as it was before the send.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.conftest import Chain
from tests.nodeutil import node_config, serving
from tests.test_review28_nonce_landed import one_match

SENDS = ("eth_sendRawTransaction", "eth_sendRawTransactionSync")
SESSION = web.AppKey("session", aiohttp.ClientSession)
STALE = web.AppKey("stale", dict)
OPERATOR_KEY = web.AppKey("operator", str)


def lagging_proxy(upstream: str) -> web.Application:
    """JSON-RPC to ``upstream``; raw sends sent twice (the second answer returned); a request
    that asks for a transaction by hash answered by a backend a block behind: null, and
    the count of each sender as before its last send."""

    async def one(session: aiohttp.ClientSession, call: dict[str, Any]) -> Any:
        async with session.post(upstream, json=call) as r:
            return json.loads(await r.read())

    async def forward(request: web.Request) -> web.StreamResponse:
        session = request.app[SESSION]
        stale: dict[str, str] = request.app[STALE]
        msg: Any = json.loads(await request.read())
        calls = msg if isinstance(msg, list) else [msg]
        lagging = any(c.get("method") == "eth_getTransactionByHash" for c in calls)
        answers = []
        for c in calls:
            method = c.get("method")
            if method in SENDS:
                plain = dict(c, method="eth_sendRawTransaction")
                count = await one(
                    session,
                    {
                        "jsonrpc": "2.0",
                        "id": 0,
                        "method": "eth_getTransactionCount",
                        "params": [request.app[OPERATOR_KEY], "latest"],
                    },
                )
                first = await one(session, plain)  # the first copy: its answer lost
                if "result" in first:  # (taken: the lagging backend has not seen it)
                    stale["count"] = count["result"]
            if lagging and method == "eth_getTransactionByHash":
                answers.append({"jsonrpc": "2.0", "id": c.get("id"), "result": None})
            elif lagging and method == "eth_getTransactionCount" and "count" in stale:
                answers.append({"jsonrpc": "2.0", "id": c.get("id"), "result": stale["count"]})
            else:
                answers.append(await one(session, c))
        out = answers if isinstance(msg, list) else answers[0]
        return web.Response(body=json.dumps(out), content_type="application/json")

    async def session_ctx(app: web.Application) -> Any:
        app[SESSION] = aiohttp.ClientSession()
        yield
        await app[SESSION].close()

    app = web.Application()
    app[STALE] = {}
    app.router.add_post("/", forward)
    app.cleanup_ctx.append(session_ctx)
    return app


async def test_a_landed_settlement_is_not_signed_again_on_a_lagging_lookup(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    app = lagging_proxy(c.deployment.rpc)
    app[OPERATOR_KEY] = c.address(19)
    async with serving(app) as proxy:
        cfg = replace(node_config(c, tmp_path / "n.db", operator=19), rpc=proxy + "/")
        sent, settler, taker = await one_match(c, cfg)
    # before: 4 (the landed batch signed again NONCE_TRIES - 1 times, each copy
    # landing and reverting on the operator's gas; the landed one recorded dropped)
    assert sent == 1, f"{sent} transactions for one match"
    assert settler.nonce_refusals == 0
    assert taker == "filled"
