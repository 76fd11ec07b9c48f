"""confirm97 (left44, "Settlement confirmation"): the gas a match the settler learns
(``BatchGas.learn``) comes only from a receipt's ``gasUsed`` the chain's block gives too
(``confirm.gas_believed``: a sealed header of the receipt's block holding the transaction
alone, its ``gasUsed`` the receipt's).

Before, the receipt's figure was learned as told: the watcher's read of the block confirms
its logs, and a read apart its block and bloom, neither its gas. A backend that told the
true logs with a made-up ``gasUsed`` raised the figure learned (backlog batches smaller, at
higher gas limits) and nothing checked it.

Real Hardhat (automine: each settlement a block of its own), a real node and SQLite store
behind a real loopback JSON-RPC proxy (aiohttp) that passes every call on, and, while told
to, answers each receipt of a transaction (alone or in a batch) with ``gasUsed`` ten times the
chain's (its logs, block and status the chain's)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from sdex.chain.rpc import quantity
from sdex.settlement.gas import BASE_GAS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, DAVE, E6, E18, ask, bid
from tests.test_settlement_pipeline import post_all

TIMES = 10
"""How many times the chain's ``gasUsed`` the proxy tells."""


@dataclass
class Inflating:
    url: str = ""
    lying: bool = False
    told: int = 0
    """Receipts answered with a made-up ``gasUsed``."""


@asynccontextmanager
async def inflating_proxy(upstream: str) -> AsyncIterator[Inflating]:
    """A proxy in front of ``upstream`` on a loopback port: each answer passed back, its
    receipts' ``gasUsed`` (a result with ``transactionHash``, ``logs`` and ``gasUsed``)
    ``TIMES`` the chain's while ``lying``."""
    p = Inflating()
    session = aiohttp.ClientSession()

    def inflated(answer: Any) -> Any:
        result = answer.get("result") if isinstance(answer, dict) else None
        if (
            p.lying
            and isinstance(result, dict)
            and {"transactionHash", "logs", "gasUsed"} <= set(result)
        ):
            p.told += 1
            return {
                **answer,
                "result": {**result, "gasUsed": hex(TIMES * quantity(result["gasUsed"]))},
            }
        return answer

    async def post(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {"Content-Type": "application/json"}
        async with session.post(upstream, data=body, headers=headers) as r:
            answer: Any = json.loads(await r.read())
        out = [inflated(a) for a in answer] if isinstance(answer, list) else inflated(answer)
        return web.json_response(out)

    app = web.Application(client_max_size=1 << 22)
    app.router.add_post("/", post)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    p.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield p
    finally:
        await runner.cleanup()
        await session.close()


@pytest.mark.parametrize("lying", [True, False], ids=["made-up-gas", "the-chains-gas"])
async def test_a_receipts_made_up_gas_is_not_learned(
    chain: Chain, tmp_path: Path, lying: bool
) -> None:
    c = chain
    async with inflating_proxy(c.rpc.url) as p:
        cfg = replace(node_config(c, tmp_path / "n.db", max_batch=8, backlog_batch=24), rpc=p.url)
        async with running_node(cfg) as (node, api):
            settler = node.settler
            asks = [c.sign(ask(c, CAROL, E18 // 10, 300 * E6)) for _ in range(20)]
            await post_all(api, asks)
            p.lying = lying
            taker = c.sign(bid(c, DAVE, 2 * E18, 20 * 300 * E6))
            code, body = await api.post_order(taker)
            assert code == 201 and len(body["matches"]) == 20, body
            await wait_for(lambda: settler.settled == 20 and settler.idle.is_set(), timeout=60)
            assert settler.sent == 1 and settler.largest_batch == 20 and settler.failed == 0
            assert await api.status(taker) == "filled"
            assert p.told > 0 or not lying
    its = {"address": c.exchange.address, "fromBlock": "0x0",
           "topics": [None, "0x" + taker.hash.hex()]}  # fmt: skip
    [tx] = {lg["transactionHash"] for lg in c.rpc.call("eth_getLogs", its)}
    used = quantity(c.rpc.call("eth_getTransactionReceipt", tx)["gasUsed"])
    # before: the made-up figure learned (ten times the chain's, less the base); the chain's
    # own is learned as before
    assert settler.gas.seen == (0 if lying else (used - BASE_GAS) // 20), (settler.gas.seen, used)
