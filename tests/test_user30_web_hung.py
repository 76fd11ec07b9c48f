"""The web page against a node that takes connections but never answers, and what a screen
reader hears (user30's trial, Chromium against a real node):

- a node paused (SIGSTOP: hung, or a proxy in front of it black-holing requests) left the
  page "live" with no banner for as long as it hung, its reads piling up unanswered, and a
  placed order showed nothing at all, the button greyed, until the node woke: now reads give
  up after 8 s and the node is said not to answer, a posted order says it is being posted,
  and after 20 s without an answer (15 then: left77) what reading it back by its hash found;
- the order outcome, the form's errors and the banners were not live regions (a screen
  reader heard nothing after "Place order"), the field errors were not tied to their fields,
  the Buy/Sell group and the tables had no names, a book row did not say its side (shown by
  colour and place only), and "My orders"' buttons were each just "cancel" or "on chain".

The hang is the page's own requests held unanswered by Playwright (``page.route``); the
node and its chain are real. The page's clock is Playwright's (``page.clock``), moved past the
page's timeouts as the chain's is moved past an order's expiry, not waited out."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from playwright.async_api import Browser, Route

from tests.conftest import Chain
from tests.nodeutil import ROOT, wait_for
from tests.test_web import chromium, in_module_loop, node_and_page, place


def page_constant(name: str) -> int:
    """A whole-number constant of the page's script (``const NAME = 123;``)."""
    m = re.search(rf"^const {name} = (\d+);$", (ROOT / "sdex/web/static/app.js").read_text(), re.M)
    assert m is not None, name
    return int(m.group(1))


READ_TIMEOUT_MS = page_constant("READ_TIMEOUT_MS")
"""The page's wait for a read's answer (8 s)."""
POST_TIMEOUT_MS = page_constant("POST_TIMEOUT_MS")
"""Its wait for a posted order's (20 s)."""

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_a_node_that_never_answers_is_said_and_a_posted_order_too(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 6, clock=True) as (_node, w):
        page = w.page
        await page.wait_for_selector("body[data-node=up]", state="attached", timeout=10_000)
        woken = asyncio.Event()
        held: list[Route] = []

        async def hang(route: Route) -> None:
            held.append(route)
            await woken.wait()
            await route.abort()

        for path in ("/health", "/web/status", "/metrics", "/v1/orders"):
            await page.route(f"**{path}", hang)
        try:
            # an order placed as the node hangs (before the page can tell, ux49: once it
            # knows, it takes no order): said while it is posted, then that it may not have been
            await page.fill("#price", "1500")
            await page.fill("#amount", "0.5")
            await page.click("#submit")
            await page.wait_for_function(
                "() => document.getElementById('notice').textContent"
                " === 'posting the order to the node…'",
                timeout=5_000,
            )
            # the socket stays open; the reads go unanswered: said once their 8 s passed
            # (the page's clock run that far: its 2 s ticks each come, as they would)
            await wait_for(lambda: any(r.request.url.endswith("/health") for r in held))
            await page.clock.run_for(READ_TIMEOUT_MS + 1000)
            await page.wait_for_selector("body[data-node=down]", state="attached", timeout=20_000)
            text = await page.text_content("#node-banner")
            assert text is not None and text.startswith("this node does not answer (since "), text
            await page.clock.run_for(POST_TIMEOUT_MS - READ_TIMEOUT_MS)  # (20 s in all)
            await page.wait_for_function(
                "() => document.getElementById('err-form').textContent !== ''", timeout=25_000
            )
            said = await page.text_content("#err-form") or ""
            # (read back by its hash, left77: the node never had it, the page's request held)
            assert re.fullmatch(
                f"the node did not answer within {POST_TIMEOUT_MS // 1000} s, and it does not "
                r"hold order 0x[0-9a-f]{64} \(yet: it may still be judging it; \"My orders\" "
                r"lists it if it takes it; placing it again signs another order\)",
                said,
            ), said
            assert await page.text_content("#notice") == ""
            assert await page.is_disabled("#submit")  # (no other order until it answers)
            why = await page.text_content("#submit-why") or ""
            assert why.startswith("no orders while this node does not answer"), why
            # one read of each kind at a time, not one more every 2 s
            assert sum(r.request.url.endswith("/health") for r in held) <= 3, len(held)
        finally:
            woken.set()
            await page.unroute_all(behavior="ignoreErrors")
        # the node answers again: the banner goes
        await page.wait_for_selector("body[data-node=up]", state="attached", timeout=15_000)
        assert await page.is_hidden("#node-banner")
        assert not await page.is_disabled("#submit")


@in_module_loop
async def test_what_a_screen_reader_is_told(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 7) as (_node, w):
        page = w.page
        await place(w, "buy", "1500", "0.5")
        await page.wait_for_selector('#bids tr[data-price="1500"]', timeout=10_000)
        tree = await page.locator("body").aria_snapshot()
        for named in (
            'table "Order book"', 'table "My orders"', 'table "Recent fills"',
            'table "Peers"', 'radiogroup "Side"',
            'row "bid 1500 USDC, 0.5 WETH, total 0.5, includes your order"',
            # each of "My orders"' buttons names its order (three "cancel" said nothing)
            'button "cancel buy 0.5 WETH at 1500 at the node"',
            'button "cancel buy 0.5 WETH at 1500 on chain (gas)"',
        ):  # fmt: skip
            assert named in tree, (named, tree)
        # what changes after "Place order" is announced; each field's error is its description
        live = await page.evaluate(
            "() => ['last-order', 'notice', 'err-form', 'err-account', 'node-banner',"
            " 'chain-banner', 'err-price', 'err-amount', 'err-expiry'].map(i => {"
            " const e = document.getElementById(i);"
            " return [i, e.getAttribute('role') || e.getAttribute('aria-live')]; })"
        )
        assert all(kind for _, kind in live), live
        await page.fill("#price", "abc")
        described = await page.evaluate(
            "() => { const ids = document.getElementById('price').getAttribute("
            "'aria-describedby').split(' ');"
            " return ids.map(i => document.getElementById(i).textContent).join(' '); }"
        )
        assert "PRICE must be a plain positive decimal" in described, described
        assert w.errors == []
