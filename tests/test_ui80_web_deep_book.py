"""A deep book on the page (ui80's trial: the page drew every price level the node's snapshot
holds, a row each; with 5,000 levels a side the page was 238,000 px tall, "My orders" and its
cancel buttons under all of them, and choosing an account held the page ~6 s, each book
update as long: a busy book, or a peer flooding it with funded orders at distinct prices,
left the page unusable). It draws the best ``BOOK_LEVELS`` of each side (fewer on a phone's
width) and one line per side saying how many more levels, what they offer in all and how
many hold the account's own orders. A real node serving dev wallets, real orders, Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_web import (
    E6,
    E18,
    Watched,
    book_rows,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

LEVELS = 25
"""The page's BOOK_LEVELS (app.js): the levels of a side drawn at a desktop's width."""
PHONE_LEVELS = 10
"""The page's BOOK_LEVELS_PHONE: at 600 px or less."""


async def more_line(w: Watched, side: str) -> str | None:
    """The line for the levels of ``side`` not drawn, as seen ("hidden" when it is drawn
    but not seen: a phone's width hid the book's last column, its one cell), or None."""
    text: str | None = await w.page.evaluate(
        "s => { const td = document.querySelector(`#book tr.more[data-side='${s}'] td`);"
        " return td ? (td.getClientRects().length ? td.innerText : 'hidden') : null }",
        side,
    )
    return text


async def drawn(w: Watched, side: str) -> list[str]:
    return [p for s, p, _ in await book_rows(w) if s == side]


@in_module_loop
async def test_a_deep_book_draws_its_best_levels_and_says_the_rest(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    asks = 32  # (the worst of them the chosen account's own, among the levels not drawn)
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        for i in range(asks):
            maker = 11 if i == asks - 1 else 12
            ask = chain.sign(chain.order(maker, chain.weth, E18 // 1000, chain.usdc, (3 + i) * E6))
            code, body = await api.post_order(ask)
            assert code == 201, body
        for i in range(3):
            bid = chain.sign(
                chain.order(13, chain.usdc, (1 + i) * E6 // 10, chain.weth, E18 // 1000)
            )
            code, body = await api.post_order(bid)
            assert code == 201, body
        w = await new_page(b, api.base)
        await choose_dev_account(w, chain.address(11))
        await w.page.wait_for_selector("#my-orders tr[data-status=open]", timeout=15_000)

        async def all_in() -> bool:
            return await more_line(w, "sell") is not None and len(await drawn(w, "buy")) == 3

        await wait_for(all_in, timeout=30)
        best = [str(3000 + 1000 * i) for i in range(LEVELS)]
        assert await drawn(w, "sell") == best[::-1]  # (worst drawn first, the best by the spread)
        assert await drawn(w, "buy") == ["300", "200", "100"]
        said = await more_line(w, "sell")
        assert said == (
            f"{asks - LEVELS} more ask levels above, not drawn: 0.007 WETH in all; "
            "1 of them holds your orders"
        ), said
        assert await more_line(w, "buy") is None  # (every bid drawn)
        assert (
            await w.page.locator("#book tr.mine").count() == 0
        )  # (the account's level: not drawn)

        await w.page.set_viewport_size({"width": 390, "height": 800})

        async def phone() -> bool:
            return len(await drawn(w, "sell")) == PHONE_LEVELS

        await wait_for(phone, timeout=10)
        assert await drawn(w, "sell") == best[:PHONE_LEVELS][::-1]
        assert await more_line(w, "sell") == (
            f"{asks - PHONE_LEVELS} more ask levels above, not drawn: 0.022 WETH in all; "
            "1 of them holds your orders"
        )
        assert await w.page.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert w.errors == [] and w.foreign_requests(w.dev_rpc) == []


@in_module_loop
async def test_a_small_bid_at_an_odd_price_fits_a_phone(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """A bid of 0.1 USDC (the devnet's minimum) for 0.0000500250125... WETH: its level reads
    "~1998.999998", its size and total "~0.000050025013", and at 360 px the book was 41 px
    wider than its panel (the Total column cut off, the panel scrolled sideways; README: every
    column fits from 360 px up). On a phone the book's figures are a little smaller."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        for i in range(2):
            bid = chain.order(13, chain.usdc, E6 // 10, chain.weth, 50_025_012_556_278 + i)
            code, body = await api.post_order(chain.sign(bid))
            assert code == 201, body
        w = await new_page(b, api.base)
        await w.page.set_viewport_size({"width": 360, "height": 800})

        async def both() -> bool:
            return len(await drawn(w, "buy")) == 2

        await wait_for(both, timeout=20)
        cells = await w.page.locator("#bids tr").first.locator("td").all_inner_texts()
        assert cells[:3] == ["~1998.999998", "~0.000050025013", "~0.000050025013"], cells
        over = await w.page.evaluate(
            "() => { const m = document.getElementById('market');"
            " return m.scrollWidth - m.clientWidth }"
        )
        assert over <= 0, over
        assert w.errors == [] and w.foreign_requests() == []
