"""The page's order preview in ``sdex order``'s words (user38's trial).

A sell of 0.1 WETH at 2000 was previewed "you give at most 0.1 WETH for 200 USDC": it reads
as a fixed 200 USDC for up to 0.1 WETH, when the order gives 0.1 WETH for at least 200 USDC
(more at a better price). ``sdex order`` says "SELL 0.1 WETH for at least 200 USDC" and
"BUY 0.3 WETH for at most 597 USDC"; the page now says the same, and names the fee's token
(it showed a bare number). The book's column heads say their units too ("Price", "Size"
and "Total" said none).
"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

# (fee in bps, side, price, amount, the preview)
CASES = [
    (0, "sell", "2000", "0.1", "sell 0.1 WETH for at least 200 USDC"),
    (0, "buy", "1990", "0.3", "buy 0.3 WETH for at most 597 USDC"),
    (30, "buy", "2000", "1", "buy 1 WETH for at most 2000 USDC · fee 0.003 WETH (30 bps)"),
    (30, "sell", "2000", "1", "sell 1 WETH for at least 2000 USDC · fee 6 USDC (30 bps)"),
]  # fmt: skip


@in_module_loop
async def test_the_preview_says_the_order_as_sdex_order_does(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    for fee in (0, 30):
        served = node_and_page(chain, tmp_path, chromium, 8, f"n{fee}.db", fee_bps=fee)
        async with served as (_node, w):
            page = w.page
            # the book's columns say their units, as the form's fields do
            heads = await page.locator("#book thead th").all_text_contents()
            assert heads[:3] == ["Price (USDC)", "Size (WETH)", "Total (WETH)"], heads
            for bps, side, price, amount, said in CASES:
                if bps != fee:
                    continue
                await page.check(f'input[name="side"][value="{side}"]')
                await page.fill("#price", price)
                await page.fill("#amount", amount)
                assert await page.text_content("#preview") == said
            assert w.errors == []
