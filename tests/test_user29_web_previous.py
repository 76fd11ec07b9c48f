"""The line under the form after a refused order (user29's trial): an IOC that met nothing
read "order 0xa1ac…21bf: removed (no match: dropped (ioc), nothing traded)"; the next order,
refused as a self-trade, left that line as it was under the red "nothing was posted", so it
read as the new order's fate. Now a refused attempt marks the line as the previous order's,
until an order is posted again. A real node serving dev wallets, Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page, place

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_a_refused_order_leaves_the_last_line_marked_as_the_previous_order(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 6) as (_node, w):
        page = w.page
        h = await place(w, "buy", "1500", "0.5")
        short = h[:8]
        await page.wait_for_function(
            "s => document.getElementById('last-order').textContent.startsWith(s)",
            arg=f"order {short}…",
            timeout=10_000,
        )
        # a sell that would trade with it: refused, nothing posted
        await page.check('input[name="side"][value="sell"]')
        await page.fill("#price", "1400")
        await page.fill("#amount", "0.5")
        await page.click("#submit")
        await page.wait_for_function(
            "() => document.getElementById('err-form').textContent.includes('nothing was posted')",
            timeout=10_000,
        )
        line = await page.text_content("#last-order") or ""
        assert line.startswith(f"your previous order {short}…") and ": open" in line, line
        # an order posted again: the line is that order's
        h2 = await place(w, "buy", "1400", "0.5")
        await page.wait_for_function(
            "s => document.getElementById('last-order').textContent.startsWith(s)",
            arg=f"order {h2[:8]}…",
            timeout=10_000,
        )
        assert w.errors == [] or all("400" in e for e in w.errors), w.errors
