"""flaky80: a read the node answered as it stopped (it answers those in flight, README
"Stopping"), delivered after a later read was refused, took down the "does not answer" banner
that refusal put up: the page said the node answered till its next read (2 s on), and
test_user31_web_banner read the banner visible, then empty, on a loaded machine. An answer to
a read sent before the one that said otherwise says nothing of now.

flake95: nor do its figures: the late answer's chain lag ("0 blocks") and head were written
over the stale marks the refusal had put, and read as live under the banner for as long as
the node stayed down (test_user25_web_down's "0 blocks" where "—" was expected)."""

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
"""The head the late answer says (the node's is far lower)."""


@in_module_loop
async def test_an_answer_sent_before_the_node_stopped_does_not_say_it_is_back(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    held: asyncio.Future[tuple[Route, dict[str, object]]] = (
        asyncio.get_running_loop().create_future()
    )

    asked_after = 0  # (reads of /web/status after the held one: one at a time, so the page
    # has taken in the held answer once it asks again)

    async def hold(route: Route) -> None:
        # the node's answer, read now and handed to the page only once it has seen the node
        # down: as a stopping node's answer to a read in flight is, on a loaded machine
        nonlocal asked_after
        if held.done():
            asked_after += 1
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
        assert await w.page.text_content("#lag") == "—"
        asked_after = 0
        await route.fulfill(json={**status, "head": LATE_HEAD, "lag": 0})
        async with asyncio.timeout(30):
            while not asked_after:
                await asyncio.sleep(0.1)
        assert await w.page.get_attribute("body", "data-node") == "down"
        assert await w.page.text_content("#lag") == "—"  # (it said "0 blocks")
        assert await w.page.text_content("#head") != str(LATE_HEAD)
        assert await w.page.is_visible("#node-banner")
        text = await w.page.text_content("#node-banner") or ""
        assert text.startswith("this node does not answer (since "), text
