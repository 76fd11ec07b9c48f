"""The Network panel's "Orders received/s" (ux51's trial: it still read "0.0 (0.0 posted
here)" four seconds after an order was posted on that page). It was the change between two
reads of the node's counts, 0.5-2 s apart, so an order counted once and was gone from the
next read on; it is now the rate over the last 10 s or a little more, with the count it is
made of."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page, place

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

RECORD = """() => {
  window.rateShown = [];
  const dd = document.getElementById('orders-rate');
  new MutationObserver(() => rateShown.push([performance.now(), dd.textContent]))
    .observe(dd, { childList: true, characterData: true, subtree: true });
}"""
"""Each text the panel's rate shows, with the page's time it was set."""


@in_module_loop
async def test_the_rate_counts_an_order_posted_seconds_ago(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 1) as (_node, w):
        await w.page.evaluate(RECORD)
        await place(w, "sell", "2000", "0.5")
        posted = await w.page.evaluate("() => performance.now()")
        # the panel's reads (every 2 s) until one 5 s after the order has been shown
        await w.page.wait_for_function(
            "t => rateShown.some(([at]) => at > t + 5000)", arg=posted, timeout=30_000
        )
        shown: list[list[float | str]] = await w.page.evaluate("() => rateShown")
        # (a read under way as the order was posted may count without it: from 2.5 s on)
        late = [str(text) for at, text in shown if float(at) > posted + 2500]
        assert late, shown
        for text in late:
            got = re.fullmatch(
                r"(\d+\.\d) \((\d+\.\d) posted here\) · 1 order in the last (\d+) s", text
            )
            assert got is not None, (text, shown)
            assert float(got[1]) > 0 and float(got[2]) > 0, (text, shown)
            assert float(got[1]) == float(got[2]), (text, shown)  # (the one order, posted here)
        assert w.errors == []
