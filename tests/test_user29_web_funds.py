"""An order larger than the wallet can pay, placed from the page (user29's trial: a sell of
100000 WETH from a dev account of ~1,000 read "order 0x8f76…4ec0: open", and the book showed
~1,000: nothing said why). The page now says under the form, as ``sdex order`` does, how much
of it the wallet's balance and allowance cover and that the book offers that much; an order
the wallet covers says nothing of the kind. A real node serving dev wallets, Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page, place

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_an_order_the_wallet_cannot_pay_in_full_says_what_the_book_offers(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    held = c.weth.balance_of(c.address(4))
    whole = held // 10**18
    async with node_and_page(chain, tmp_path, chromium, 4) as (_node, w):
        h = await place(w, "sell", "2500", str(whole * 100))
        said = (
            "the wallet's balance and allowance (shared by its open orders) cover "
            f"{whole} WETH of it now; the book offers that much"
        )
        await w.page.wait_for_function(
            "s => document.getElementById('last-order').textContent.includes(s)",
            arg=said,
            timeout=10_000,
        )
        assert h[2:8] in (await w.page.text_content("#last-order") or "")
        # a second sell: the wallet's WETH is the first one's
        await place(w, "sell", "2600", "1")
        await w.page.wait_for_function(
            "s => document.getElementById('last-order').textContent.includes(s)",
            arg="cover none of it now; the book offers none of it until the wallet holds more",
            timeout=10_000,
        )
        # a buy this wallet's USDC covers: nothing of the kind
        await place(w, "buy", "1", "1")
        await w.page.wait_for_function(
            "() => document.getElementById('last-order').textContent.includes(': open')",
            timeout=10_000,
        )
        assert "cover" not in (await w.page.text_content("#last-order") or "")
        assert w.errors == []
