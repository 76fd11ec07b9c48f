"""The funds line while the chain is away (ui80's trial: the devnet stopped, the page's banner
said the node could not reach its chain, and the funds line under the account went on saying
the wallet's balances, allowances and what is free for new orders as if just read: it reads
them at each new block, and with the chain gone no block came). It reads them again as the
node's chain goes (a read that fails says so, as any failed read does) and as it comes back.
The chain's RPC behind a real aiohttp gate that refuses while the test says so; a real node
serving dev wallets on it; Chromium."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import aiohttp
from aiohttp import web
from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node, serving
from tests.test_web import (
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_the_funds_line_says_it_cannot_read_the_chain_while_it_is_away(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    up = asyncio.Event()
    up.set()

    cors = {"Access-Control-Allow-Origin": "*"}  # (as Hardhat's: the page reads it too)

    async def gate(request: web.Request) -> web.Response:
        if not up.is_set():
            return web.Response(status=503, text="chain endpoint down", headers=cors)
        async with aiohttp.ClientSession() as s:
            answer = await s.post(chain.deployment.rpc, data=await request.read(), headers={
                "Content-Type": "application/json"})  # fmt: skip
            body = await answer.read()
            return web.Response(body=body, content_type="application/json", headers=cors)

    async def preflight(request: web.Request) -> web.Response:
        return web.Response(headers={**cors, "Access-Control-Allow-Headers": "content-type"})

    app = web.Application()
    app.router.add_post("/", gate)
    app.router.add_route("OPTIONS", "/", preflight)
    async with serving(app) as rpc, browser(chromium) as b:
        cfg = replace(dev_config(chain, tmp_path / "n.db", 19), rpc=rpc + "/")
        async with running_node(cfg) as (node, api):
            w = await new_page(b, api.base)
            await choose_dev_account(w, chain.address(15))
            funds = "#funds div[data-token=WETH]"
            await w.page.wait_for_selector(funds, timeout=15_000)

            node.watcher.stall = 2.0  # (a hang said after 2 s, not 5)
            up.clear()
            await w.page.wait_for_selector("#chain-banner[data-chain=unreachable]", timeout=20_000)
            await w.page.wait_for_selector(funds, state="detached", timeout=20_000)
            said = await w.page.text_content("#funds")
            assert said == (
                "funds: could not read the chain (the chain's RPC answered HTTP 503); "
                "read again at the next block"
            ), said

            up.set()
            await w.page.wait_for_selector("#chain-banner[data-chain=ok]", state="attached")
            await w.page.wait_for_selector(funds, timeout=20_000)
            errors = [e for e in w.errors if "503 (Service Unavailable)" not in e]
            assert errors == [] and w.foreign_requests((rpc,)) == []
