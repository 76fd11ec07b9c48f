"""user31: the page's own banners said since when in the browser's locale ("since 7:50:56
AM"), the chain banner beside them in the node's words ("since 07:50:40 UTC"): two clocks on
one page, an hour apart or more outside UTC. The page's banners now say UTC, as the node,
`sdex order` and the chain banner do."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import browser, chromium, dev_config, in_module_loop, new_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_the_node_down_banner_says_utc(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with browser(chromium) as b:
        async with running_node(cfg) as (_node, api):
            w = await new_page(b, api.base)
            await w.page.wait_for_selector("body[data-node=up]", state="attached", timeout=10_000)
        await w.page.wait_for_selector("#node-banner", state="visible", timeout=15_000)
        text = await w.page.text_content("#node-banner") or ""
        assert re.match(r"this node does not answer \(since \d\d:\d\d:\d\d UTC\): ", text), text
