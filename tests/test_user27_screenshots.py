"""The README's screenshots from the current page (user27): docs/web-book.png and
docs/web-fill.png showed the old three-column page at 1,440 px with four levels. This
builds a book a trader would recognise (several makers a side, sizes of every kind, one
level of two orders) across two nodes, then a crossing bid on node 2's page, and checks
what the pictures are meant to show (an empty "Recent fills" says "no fills yet": its
headings alone looked broken). ``SDEX_SCREENSHOTS=docs`` writes them there.

The nodes have the devnet's minimums (0.0001 WETH, 0.1 USDC: ``sdex node``'s default), as
the pictures' node would. Without any (test configs have none) the crossing bid's rest,
1098 USDC base units, is a rest the contract still fills: all or nothing for
0.000000548657089320 WETH (dust38), so the bid stayed ``partially_filled`` (park42)."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from sdex.book import OrderBook
from sdex.devnet import DEV_TOKENS
from sdex.matching import MatchingEngine
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_book import BASE, QUOTE, T0, A, B, C, ask, bid
from tests.test_web import (
    _is,
    book_rows,
    browser,
    choose_dev_account,
    chromium,
    in_module_loop,
    level,
    my_status,
    new_page,
    place,
    screenshot,
    two_nodes,
    url_of,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

ASKS = [("2001.25", "0.42"), ("2002", "1.3"), ("2003.5", "0.875"), ("2005", "2.5"),
        ("2008.75", "4"), ("2012", "0.15")]  # fmt: skip
BIDS = [("1999.5", "0.6"), ("1998", "1.125"), ("1997.25", "3.2"), ("1995", "0.9"),
        ("1992.5", "5"), ("1990", "0.33"), ("1998", "0.4")]  # fmt: skip
MINIMUMS = (DEV_TOKENS[0][4], DEV_TOKENS[1][4])  # (WETH, USDC): sdex node's default
WETH, USDC = 10**18, 10**6


def test_the_crossing_bids_rest_is_dust_at_the_devnet_minimums() -> None:
    """The picture's fill in the book: the bid of 1.8 WETH for 3602.25 USDC takes the ask of
    1.5 at 2000.5 and 0.3005616 WETH of the ask of 0.42 at 2001.25, leaving 1098 USDC base
    units; closed as dust once its fills settle at the devnet's minimums, all or nothing
    (open) without minimums."""
    for minimums, closed in ((MINIMUMS, True), (None, False)):
        book = OrderBook([(BASE, QUOTE)], default_funds=10**30)
        if minimums is not None:
            book.minimums = {BASE: minimums[0], QUOTE: minimums[1]}
        eng = MatchingEngine(book)
        eng.submit(ask(A, 15 * WETH // 10, 300075 * USDC // 100), T0)
        eng.submit(ask(C, 42 * WETH // 100, 840525 * USDC // 1000), T0)
        inc = bid(B, 18 * WETH // 10, 360225 * USDC // 100)
        r = eng.submit(inc, T0)
        assert [(m.amounts.left_filled, m.amounts.right_filled) for m in r.matches] == [
            (15 * WETH // 10, 3000750000),
            (300561600000000000, 601498902),
        ]
        eng.confirm_all(r.matches)
        st = book.get(inc.hash)
        if closed:
            assert st is None, minimums  # filled but dust: closed and forgotten
        else:
            assert st is not None and st.closed is None and st.filled == 3602248902


@in_module_loop
async def test_the_readme_screenshots(chain: Chain, tmp_path: Path, chromium: Browser) -> None:
    async with two_nodes(chain, tmp_path, MINIMUMS) as (n1, n2), browser(chromium) as b:
        p1 = await new_page(b, url_of(n1))
        p2 = await new_page(b, url_of(n2))
        await p1.page.wait_for_selector(f'#peers td[title="{url_of(n2)}"]')
        await p2.page.wait_for_selector(f'#peers td[title="{url_of(n1)}"]')
        makers = [chain.address(i) for i in (3, 4, 5, 6)]
        for i, (price, amount) in enumerate(ASKS):
            await choose_dev_account(p1, makers[i % 4])
            await place(p1, "sell", price, amount)
        for i, (price, amount) in enumerate(BIDS):
            await choose_dev_account(p2, makers[(i + 1) % 4])
            await place(p2, "buy", price, amount)
        # the buyer's own resting bids and the seller's ask, highlighted on their pages
        await choose_dev_account(p1, chain.address(1))
        await choose_dev_account(p2, chain.address(2))
        ask = await place(p1, "sell", "2000.5", "1.5")
        await place(p2, "buy", "1996", "0.75")
        await place(p2, "buy", "1985.25", "2")
        await wait_for(lambda: _is(level(p2, "sell", "2000.5"), "1.5"), timeout=15)
        rows = await book_rows(p1)
        assert len(rows) == 15 and ("buy", "1998", "1.525") in rows, rows
        await wait_for(lambda: _is(book_rows(p2), rows), timeout=15)
        # no fills yet: said so, not an empty table's headings alone
        assert await p1.page.text_content("#fills tbody") == "no fills yet"
        await screenshot(p1, "web-book.png", tmp_path, keep=True)

        bid = await place(p2, "buy", "2001.25", "1.8")  # takes 2000.5 and part of 2001.25
        for w in (p1, p2):
            await w.page.wait_for_selector("#fills tbody tr[data-tx]", timeout=30_000)
        await wait_for(lambda: _is(my_status(p1, ask), "filled"), timeout=30)
        await wait_for(lambda: _is(my_status(p2, bid), "filled"), timeout=30)
        # (a buy fixes the quote it spends: the 601.5 USDC left after 2000.5 buy 0.3005...)
        await wait_for(lambda: _is(level(p2, "sell", "2000.5"), None), timeout=15)
        left = await level(p2, "sell", "2001.25")
        assert left is not None and left.startswith("0.1194"), left
        assert await p2.page.locator("#fills tbody tr[data-tx]").count() == 2
        # a still picture: the new rows' flash over, the network figures past the fill's block
        block = int(await p2.page.text_content("#fills tbody tr[data-tx] td") or "0")
        await p2.page.wait_for_function(
            "b => document.getAnimations().length === 0 && +document.getElementById('head')"
            ".textContent >= b && +document.getElementById('checkpoint').textContent >= b",
            arg=block,
            timeout=15_000,
        )
        await screenshot(p2, "web-fill.png", tmp_path, keep=True)
        for w in (p1, p2):
            assert w.errors == [], w.errors
