"""The limit the page signs, when the quote token's decimals move it (user28's trial): a buy
of 0.0001 WETH at 1999.999999 gives at most 0.199999 USDC (0.1999999999 rounded down to
USDC's 6 decimals), so its signed limit is 1999.99, and "My orders" and the book showed
1999.99 with nothing said before. ``sdex order`` says "note: whole USDC units move the signed
limit from 1999.999999 to 1999.99, in your favour"; the page's preview now says it too."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

# (side, price, amount, the preview)
CASES = [
    ("buy", "1999.999999", "0.0001", "buy 0.0001 WETH for at most 0.199999 USDC · whole "
     "USDC units move the signed limit from 1999.999999 to 1999.99, in your favour"),
    ("sell", "0.0000001", "0.5", "sell 0.5 WETH for at least 0.000001 USDC · whole USDC "
     "units move the signed limit from 0.0000001 to 0.000002, in your favour"),
    ("buy", "2000", "0.0001", "buy 0.0001 WETH for at most 0.2 USDC"),  # exact: no note
]  # fmt: skip


@in_module_loop
async def test_the_preview_says_when_the_signed_limit_moves(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 8) as (_node, w):
        page = w.page
        for side, price, amount, said in CASES:
            await page.check(f'input[name="side"][value="{side}"]')
            await page.fill("#price", price)
            await page.fill("#amount", amount)
            assert await page.text_content("#preview") == said
        assert w.errors == []
