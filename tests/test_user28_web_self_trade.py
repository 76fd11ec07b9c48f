"""An order from the page that would trade with the same account's resting order (user28's
trial): the node refuses it (``SELF_TRADE``) and the page said, under the account, "maker: it
would trade with the same maker's resting order 0x389a3c6f...", the node's words with a
whole hash and no next step. It now says it is your own order, which one (as "My orders"
shows it), and what to do; nothing was posted."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page, place

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_a_self_trade_is_said_with_the_order_and_a_next_step(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 7) as (node, w):
        own = await place(w, "sell", "2010", "0.3")
        page = w.page
        await page.check('input[name="side"][value="buy"]')
        await page.fill("#price", "2020")
        await page.fill("#amount", "0.1")
        await page.click("#submit")
        await page.wait_for_function("() => document.getElementById('err-form').textContent")
        said = await page.text_content("#err-form")
        short = f"{own[:8]}…{own[-4:]}"
        assert said == (
            f"this order's price crosses your own resting order {short} (an account never "
            "trades with itself, even behind others' better orders): cancel that order or change "
            "the price; nothing was posted"
        ), said
        assert await page.text_content("#err-account") == ""
        assert len(node.records) == 1  # only the resting sell
