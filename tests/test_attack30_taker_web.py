"""attack30 "Fake top of book" on the node's page: an ask restricted to an address that
never trades, below every public ask, is not in the page's book (its snapshot on load, nor
the updates after); the public ask above it is."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_attack30_taker_book import ALICE, CAROL, DAVE, DEAD, _ask, _bid
from tests.test_web import Watched, _is, book_rows, browser, chromium, dev_config, in_module_loop

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_the_pages_book_shows_no_restricted_order(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    cfg = dev_config(c, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        assert (await api.post_taken(_ask(c, CAROL, 2400, taker=DEAD)))[0] == 201
        assert (await api.post_taken(_ask(c, ALICE, 3100)))[0] == 201
        ctx = await b.new_context(viewport={"width": 1440, "height": 860})
        w = await Watched(await ctx.new_page(), api.base).open()  # (the snapshot)
        await wait_for(lambda: _is(book_rows(w), [("sell", "3100", "1")]))
        # after it, by updates: another below the best, and a bid under the fake ask
        assert (await api.post_taken(_ask(c, DAVE, 2300, taker=DEAD)))[0] == 201
        assert (await api.post_taken(_bid(c, ALICE, 2450)))[0] == 201
        want = [("sell", "3100", "1"), ("buy", "2450", "1")]
        await wait_for(lambda: _is(book_rows(w), want))
        assert w.errors == []
