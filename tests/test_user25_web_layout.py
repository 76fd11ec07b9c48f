"""The page at a laptop's width (user25's trial): between 1,101 and 1,599 px the three
panels sat side by side, and with ordinary orders (a price of 2000.123456, an amount with
six decimals, a partly filled order) "My orders" grew wider than its panel: its cancel and
"on chain" buttons and the end of its status ("partially_fil") were past the panel's edge,
reachable only by scrolling the panel sideways, and the fills' buyer column was cut off.
Now the fills and the network go under the book and the form below 1,600 px, and "My
orders" stacks its two buttons at any width. (The phone's width, 600 px or less, was fixed
before: tests/test_web.py.)"""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_web import (
    _is,
    choose_dev_account,
    chromium,
    in_module_loop,
    my_status,
    node_and_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

WIDTHS = (1101, 1280, 1366, 1440, 1599, 1600, 1920)


@in_module_loop
async def test_every_panel_fits_a_laptops_width(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 6) as (_node, w):
        await place(w, "sell", "2000.123456", "0.75")
        await choose_dev_account(w, chain.address(5))
        big = await place(w, "buy", "2001", "12.345678")  # partly filled by the sell
        await place(w, "buy", "1999.999999", "0.000001")
        try:
            await wait_for(lambda: _is(my_status(w, big), "partially_filled"), timeout=20)
        except AssertionError:
            raise AssertionError(await w.page.text_content("#my-orders")) from None
        await w.page.wait_for_selector("#fills tbody tr[data-tx]", timeout=20_000)
        for width in WIDTHS:
            await w.page.set_viewport_size({"width": width, "height": 900})
            got = await w.page.evaluate(
                """() => ({
                  scroll: [...document.querySelectorAll('.panel')].map(
                    p => [p.id, p.scrollWidth - p.clientWidth]),
                  buttons: [...document.querySelectorAll('#my-orders button')].map(b => {
                    const r = b.getBoundingClientRect();
                    const p = document.getElementById('market').getBoundingClientRect();
                    return r.left >= p.left && r.right <= p.right;
                  }),
                  status: [...document.querySelectorAll('#my-orders td[class^="status-"]')].map(
                    td => td.scrollWidth <= td.clientWidth),
                })"""
            )
            assert got["scroll"] == [["market", 0], ["trade", 0], ["activity", 0]], (width, got)
            assert got["buttons"] and all(got["buttons"]), (width, got)
            assert all(got["status"]), (width, got)
        assert w.errors == []
