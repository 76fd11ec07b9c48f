"""The line under the form for an order that rests (ux65's trial: a GTC order placed from the
page read "order 0x0f3a…9c21: open" and nothing more: not where it rests, at what price, how
much, how much has filled; and an order that crossed in part read "partially_filled" alone).
It now says, in ``sdex order``'s words, that it rests in the book (no match yet, partly
filled, or partly matched with the rest resting), the order (side, amount, limit price), what
has filled of it (for a buy the quote spent, as "My orders" says it) and the part still
settling, and its hash links to its record at the node. A real node serving dev wallets, a
second wallet's order posted to it, Chromium."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import Api, url_of
from tests.test_web import (
    E6,
    E18,
    Watched,
    choose_dev_account,
    chromium,
    in_module_loop,
    node_and_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


async def line_says(w: Watched, order_hash: str, words: str) -> None:
    """Wait until the line under the form is ``order_hash``'s and ends with ``words``."""
    await w.page.wait_for_function(
        "([h, s]) => { const t = document.getElementById('last-order').textContent;"
        " return t.startsWith(`order ${h.slice(0, 8)}…${h.slice(-4)}: `) && t.endsWith(s) }",
        arg=[order_hash, words],
        timeout=15_000,
    )


@in_module_loop
async def test_a_resting_order_says_where_it_rests_what_it_is_and_what_filled(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    async with node_and_page(c, tmp_path, chromium, 5) as (node, w), aiohttp.ClientSession() as s:
        api = Api(s, url_of(node))
        ask = await place(w, "sell", "1500", "1")
        await line_says(
            w, ask, ": open (rests in the book, no match yet: sell 1 WETH at 1500 USDC/WETH, "
            "0 of 1 WETH filled)",
        )  # fmt: skip
        # the hash links to the order's record at the node
        href = await w.page.get_attribute("#last-order a", "href")
        assert href == f"/v1/orders/{ask}", href
        assert ask in (await w.page.get_attribute("#last-order a", "title") or "")
        code, rec = await api.get(str(href))
        assert code == 200 and rec["metaData"]["orderHash"] == ask, rec

        # another wallet takes 0.4 of it: the line follows
        bid = c.sign(c.order(6, c.usdc, 600 * E6, c.weth, 4 * E18 // 10))
        code, body = await api.post_order(bid, "ioc")
        assert code == 201 and body["outcome"] == "filled", body
        await line_says(
            w, ask, ": partially_filled (rests in the book, partly filled: sell 1 WETH at 1500 "
            "USDC/WETH, 0.4 of 1 WETH filled)",
        )  # fmt: skip

        # a buy that crosses the 0.6 left: partly matched, its rest resting, what it spent
        await choose_dev_account(w, c.address(7))
        buy = await place(w, "buy", "1500", "1")
        await line_says(
            w, buy, ": partially_filled (partly matched; the rest rests in the book: buy 1 WETH "
            "at 1500 USDC/WETH, 900 of 1500 USDC spent)",
        )  # fmt: skip
        # (the buy took what was left of the first order)
        assert (await api.get(f"/v1/orders/{ask}"))[1]["metaData"]["status"] == "filled"
        assert w.errors == []
