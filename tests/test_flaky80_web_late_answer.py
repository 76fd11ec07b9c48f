"""flaky80: a read the node answered as it stopped (it answers those in flight, README
"Stopping"), delivered after a later read was refused, took down the "does not answer" banner
that refusal put up: the page said the node answered till its next read (2 s on), and
test_user31_web_banner read the banner visible, then empty, on a loaded machine. An answer to
a read sent before the one that said otherwise says nothing of now."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from playwright.async_api import Browser, Route

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import browser, chromium, dev_config, in_module_loop, new_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

LATE_HEAD = 987654321
"""The head the late answer says: the page has read it once it shows it."""


@in_module_loop
async def test_an_answer_sent_before_the_node_stopped_does_not_say_it_is_back(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    held: asyncio.Future[tuple[Route, dict[str, object]]] = (
        asyncio.get_running_loop().create_future()
    )

    async def hold(route: Route) -> None:
        # the node's answer, read now and handed to the page only once it has seen the node
        # down: as a stopping node's answer to a read in flight is, on a loaded machine
        if held.done():
            await route.continue_()
            return
        answer = await route.fetch()
        held.set_result((route, json.loads(await answer.text())))

    async with browser(chromium) as b:
        async with running_node(cfg) as (_node, api):
            w = await new_page(b, api.base)
            await w.page.wait_for_selector("body[data-node=up]", state="attached", timeout=10_000)
            await w.page.route("**/web/status", hold)
            async with asyncio.timeout(30):
                route, status = await held
        # the node stopped: the socket closed, the book read over HTTP refused
        await w.page.wait_for_selector("body[data-node=down]", state="attached", timeout=15_000)
        await route.fulfill(json={**status, "head": LATE_HEAD})
        await w.page.wait_for_function(
            "h => document.getElementById('head').textContent === String(h)", arg=LATE_HEAD
        )
        assert await w.page.get_attribute("body", "data-node") == "down"
        assert await w.page.is_visible("#node-banner")
        text = await w.page.text_content("#node-banner") or ""
        assert text.startswith("this node does not answer (since "), text
