"""left75: "My orders" said nothing while the page waited for its node (a node starting, or
busy, slow to answer ``/v1/order_config``: the page renders nothing before it has it): its
headings over an empty table, where the book's spread already read "—". It says "choose an
account" from the first paint, as it does once the page runs with no account chosen. A real
node serving dev wallets, its ``/v1/order_config`` held back by the browser until released,
Chromium."""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import Browser, Route

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import Watched, browser, chromium, dev_config, in_module_loop

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

SAID = "() => document.querySelector('#my-orders tbody').textContent.trim()"


@in_module_loop
async def test_my_orders_says_so_before_the_node_answers(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        release = asyncio.Event()
        held: list[str] = []

        async def hold(route: Route) -> None:
            held.append(route.request.url)
            await release.wait()
            await route.continue_()

        ctx = await b.new_context(viewport={"width": 1440, "height": 860})
        await ctx.route("**/v1/order_config", hold)
        w = Watched(await ctx.new_page(), api.base)
        await w.page.goto(api.base + "/")
        await w.page.wait_for_function("() => document.getElementById('spread')")
        async with asyncio.timeout(15):
            while not held:
                await asyncio.sleep(0.05)
        assert await w.page.evaluate(SAID) == "choose an account"  # before: ""
        release.set()
        await w.page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        assert await w.page.evaluate(SAID) == "choose an account"
        assert w.errors == []
