"""The page at a phone's width with orders and fills (user27's trial): at 390 px "My orders"
put its cancel buttons past the panel's edge (the panel scrolled 14 px sideways) and "Recent
fills" its buyer column (97 px); a status broke mid-word ("cance" / "lled", "partia" /
"lly_fill" / "ed") and so did the peers' headings ("Scor" / "e"). Now the side column goes
on a phone (the price is coloured by it, at every width, and says it in a word: ux51), so
does the fills' pair (the amount names its token), and hashes and addresses fold.
(tests/test_web.py checked the phone's width with peers but no orders or fills.) A buy's
"Filled" turned the quote it spent into base at its own limit price: 0.75 WETH bought below
the limit read as 0.749671460269865067; it now says the quote spent. And a bid level's size
(its quote over its price) was written to 18 decimals ("11.596006539730134932", the book
itself past the phone's edge): it is rounded by the prices' rule now, exact in its title."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_web import (
    Watched,
    _is,
    choose_dev_account,
    chromium,
    in_module_loop,
    my_status,
    node_and_page,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

PHONES = (360, 375, 390, 414, 600)

FITS = """    scroll: [...document.querySelectorAll('.panel')].map(
      p => [p.id, p.scrollWidth - p.clientWidth]),
    page: document.documentElement.scrollWidth - innerWidth,
    buttons: [...document.querySelectorAll('#my-orders button')].map(b => {
      const r = b.getBoundingClientRect(); return r.left >= market.left && r.right <= market.right;
    }),
"""
"""What a page's width fits: each panel's and the page's sideways scroll, whether each of
"My orders" buttons is inside the market panel (``market``, its rectangle, defined before)."""

MEASURE = (
    """() => {
  const lines = (el) => {  // how many lines an element's text takes
    const r = document.createRange(); r.selectNodeContents(el);
    return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size;
  };
  const market = document.getElementById('market').getBoundingClientRect();
  return {
"""
    + FITS
    + """    status: [...document.querySelectorAll('#my-orders td[class^="status-"]')]
      .map(td => {  // the status word alone (user60's reason, .why, is a line of its own)
        const why = td.querySelector('.why'), r = document.createRange();
        const end = why ? [...td.childNodes].indexOf(why) : td.childNodes.length;
        r.setStart(td, 0); r.setEnd(td, end);
        const word = why ? td.textContent.slice(0, -why.textContent.length) : td.textContent;
        const n = new Set([...r.getClientRects()].map(x => Math.round(x.top))).size;
        return [word, n - (word.includes('_') ? 1 : 0)];
      }),
    headings: [...document.querySelectorAll('#peers th, #fills th, #my-orders th')]
      .filter(th => th.offsetParent !== null && th.textContent
        && !th.querySelector('.visually-hidden'))  // (a screen reader's alone: ux37)
      .map(th => [th.textContent, lines(th)]),
    book: [...document.querySelectorAll('#bids tr')].map(tr => tr.children[1].textContent),
    prices: [...document.querySelectorAll('#my-orders tbody tr')].map(
      tr => [tr.children[1].textContent, tr.children[2].className]),
    shown: [...document.querySelectorAll('#my-orders tbody tr')].map(
      tr => [tr.children[1].textContent, tr.innerText]),
  };
}"""
)


async def phone_orders(w: Watched, chain: Chain, tiny: str) -> tuple[str, str]:
    """A sell, then from another account a buy it partly fills, a tiny buy at a limit its
    quote's 6 decimals round (1999.999999), and a buy cancelled: the rows a phone must fit.
    The partly filled buy's hash and the cancelled one's."""
    await place(w, "sell", "2000.123456", "0.75")
    await choose_dev_account(w, chain.address(5))
    big = await place(w, "buy", "2001", "12.345678")  # partly filled by the sell
    await place(w, "buy", "1999.999999", tiny)
    gone = await place(w, "buy", "1990", "1")
    await w.page.click(f'#my-orders tr[data-hash="{gone}"] button.soft-cancel')
    await wait_for(lambda: _is(my_status(w, gone), "cancelled"), timeout=20)
    await wait_for(lambda: _is(my_status(w, big), "partially_filled"), timeout=20)
    return big, gone


@in_module_loop
async def test_orders_and_fills_fit_a_phone(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 6) as (_node, w):
        big, _gone = await phone_orders(w, chain, "0.000001")
        await w.page.wait_for_selector("#fills tbody tr[data-tx]", timeout=20_000)
        # the buy's "Filled" is what it spent: 0.75 WETH bought at the ask's 2000.123456 (at
        # its own limit, 2001, that quote read as 0.749671460269865067 WETH: untrue)
        filled = w.page.locator(f'#my-orders tr[data-hash="{big}"] td').nth(4)
        await wait_for(lambda: _is(filled.text_content(), "1500.092592 USDC"), timeout=20)
        # the bid's rest in base at its price has 18 decimals: shown as the prices are
        assert (await w.page.evaluate(MEASURE))["book"] == ["~11.59600654", "0.000001"]
        for width in (*PHONES, 1280):
            await w.page.set_viewport_size({"width": width, "height": 800})
            got = await w.page.evaluate(MEASURE)
            assert got["scroll"] == [["market", 0], ["trade", 0], ["activity", 0]], (width, got)
            assert got["page"] <= 0, (width, got)
            assert got["buttons"] and all(got["buttons"]), (width, got)
            assert ["cancelled", 1] in got["status"], (width, got)
            # no word broken (partially_filled may fold after its "_")
            assert all(n == 1 or (n == 0 and "_" in s) for s, n in got["status"]), (width, got)
            assert all(n == 1 for _, n in got["headings"]), (width, got)
            # the side is told by the price's colour (its column may be hidden)
            sides = [side in cls.split() for side, cls in got["prices"]]
            assert sides and all(sides), (width, got)
            # and in words, whatever the width (ux51: on a phone, by colour alone)
            said = [re.findall(r"\b(?:buy|sell)\b", text) == [side] for side, text in got["shown"]]
            assert said and all(said), (width, got["shown"])
        assert w.errors == []
