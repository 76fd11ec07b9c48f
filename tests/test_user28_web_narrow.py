"""The page at the narrowest phones (user28's trial): at 320 px "My orders" scrolled 34-45 px
sideways, its cancel buttons past the panel's edge (at 360 px 5 px with these orders;
tests/test_user27_web_phone.py measures 360 px and up with others). Now, up to 440 px, each of
"My orders" rows takes two lines (order, price and amount; then what is filled, the status
and the buttons, each labelled), and no cell of the book or "My orders" cuts its text."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_user27_web_phone import FITS, phone_orders
from tests.test_web import chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

WIDTHS = (320, 340, 360, 414, 440, 441, 600, 1280)

MEASURE = (
    """() => {
  const market = document.getElementById('market').getBoundingClientRect();
  const clipped = (sel) => [...document.querySelectorAll(sel)]
    .filter(td => td.offsetParent !== null && td.scrollWidth > td.clientWidth + 1)
    .map(td => td.textContent);
  return {
"""
    + FITS
    + """    clipped: [...clipped('#my-orders td'), ...clipped('#book td')],
    rows: [...document.querySelectorAll('#my-orders tbody tr')].map(tr => tr.innerText),
  };
}"""
)


@in_module_loop
async def test_my_orders_and_the_book_fit_320_px(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 6) as (_node, w):
        # (the tiny buy signed at 1999.99: its quote, 0.1999999999 USDC, rounds to 0.199999)
        await phone_orders(w, chain, "0.0001")
        for width in WIDTHS:
            await w.page.set_viewport_size({"width": width, "height": 800})
            got = await w.page.evaluate(MEASURE)
            assert got["scroll"] == [["market", 0], ["trade", 0], ["activity", 0]], (width, got)
            assert got["page"] <= 0, (width, got)
            assert got["buttons"] and all(got["buttons"]), (width, got)
            assert got["clipped"] == [], (width, got)
            # every figure is there whole, at any width
            text = "\n".join(got["rows"])
            for figure in ("1999.99", "12.345678", "1500.092592 USDC", "2001", "0.0001"):
                assert figure in text, (width, figure, got["rows"])
        assert w.errors == []
