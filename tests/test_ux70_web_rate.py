"""The Network panel's "Orders received/s" over a window shorter than a second (ux70's trial:
the demo's page, just opened, read "0.0 (0.0 posted here) · 0 orders in the last 0 s", two
reads of the node's counts a fraction of a second apart, the second one's window rounded to
0 s). A rate is now shown once its window is a second or more ("—" before). A real node, its
page in Chromium; the page's first read of /metrics is held until just before its next read
is due (2 s after the page's script sent it and set its timer)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Page, Route

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import Watched, browser, chromium, dev_config, in_module_loop

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

RECORD = """document.addEventListener('DOMContentLoaded', () => {
  window.rateShown = [];
  const dd = document.getElementById('orders-rate');
  new MutationObserver(() => rateShown.push(dd.textContent))
    .observe(dd, { childList: true, characterData: true, subtree: true });
})"""
"""Each text the panel's rate shows, from the page's first script on."""
RATE = r"\d+\.\d \(\d+\.\d posted here\) · \d+ orders? in the last (\d+) s"


@in_module_loop
async def test_no_rate_is_shown_over_less_than_a_second(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    held = 0
    pages: list[Page] = []

    async def hold_first(route: Route) -> None:  # (the page's reads are every 2 s)
        nonlocal held
        held += 1
        if held == 1:  # (the page set its 2 s timer as it sent this: held 1.6 s of that)
            sent = await pages[0].evaluate("() => performance.now()")
            await pages[0].wait_for_function(
                "t => performance.now() > t + 1600", arg=sent, polling=20, timeout=10_000
            )
        await route.continue_()

    async with (
        running_node(dev_config(chain, tmp_path / "n.db", 19)) as (_, api),
        browser(chromium) as b,
    ):
        ctx = await b.new_context(viewport={"width": 1440, "height": 860})
        await ctx.add_init_script(RECORD)
        await ctx.route("**/metrics", hold_first)
        pages.append(await ctx.new_page())
        w = await Watched(pages[0], api.base).open()
        await w.page.wait_for_function("() => rateShown.length >= 4", timeout=30_000)
        shown: list[str] = await w.page.evaluate("() => rateShown")
    rates = [t for t in shown if t != "—"]
    assert rates, shown
    for text in rates:
        got = re.fullmatch(RATE, text)
        assert got is not None, (text, shown)
        assert int(got[1]) >= 1, (text, shown)  # before: "... in the last 0 s"
    assert w.errors == []
