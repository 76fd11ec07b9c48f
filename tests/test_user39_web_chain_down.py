"""An order placed on the page while the node cannot read its chain (user38's trial, the
devnet stopped): the page said "order: the node does not follow the chain now: it cannot
reach the chain; try again", the node's field name first, unlike the rest of the page. It now
says it as the page's chain banner does, and that nothing was posted. A real node on the test
devnet, its chain cut by a proxy."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_user29_cli_words import cuttable
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
async def test_an_order_refused_for_the_chain_is_said_in_the_pages_words(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    with cuttable(chain.deployment.rpc) as (rpc, cut):
        cfg = replace(dev_config(chain, tmp_path / "n.db", 19), rpc=rpc)
        async with running_node(cfg) as (_node, api), browser(chromium) as b:
            w = await new_page(b, api.base)
            await choose_dev_account(w, chain.address(7))
            cut.set()

            async def unreachable() -> bool:
                _code, h = await api.get("/health")
                return bool(h.get("chain") == "unreachable")

            await wait_for(unreachable, timeout=60)
            page = w.page
            await page.check('input[name="side"][value="buy"]')
            await page.fill("#price", "2000")
            await page.fill("#amount", "0.1")
            await page.click("#submit")
            await page.wait_for_function(
                "() => document.getElementById('err-form').textContent", timeout=20_000
            )
            said = await page.text_content("#err-form")
            assert said is not None and not said.startswith("order: "), said
            assert said.startswith(
                "this node cannot follow its chain now (the banner above says why): the order "
                "was refused and nothing was posted; try again once the chain is back"
            ), said
            _code, listed = await api.get("/v1/orders")
            assert listed["total"] == 0, listed
