"""The web page while its node is down (user25's trial): it must not keep showing the
book, "My orders", the chain head and the peers as if they were live.

Found by hand: with the node stopped, the page went on showing its last book (with a
spread), a chain head with "lag 0 blocks" and every peer "last seen now", for as long as
the node stayed down; only the small badge in the corner said "reconnecting". Now a
banner says the node is unreachable and since when, and the panels that came from it are
marked stale (``body[data-node=down]``) until it answers again."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Route

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import (
    RESTARTED,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
    place,
)
from tests.test_web_book import Proxy, proxied_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

DOWN = "body[data-node=down]"
UP = "body[data-node=up]"


@in_module_loop
async def test_a_stopped_node_is_said_and_its_figures_marked_stale(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with browser(chromium) as b:
        async with running_node(cfg) as (_node, api):
            w = await new_page(b, api.base)
            await choose_dev_account(w, chain.address(5))
            await place(w, "buy", "1500", "0.5")
            await w.page.wait_for_selector("#book tr[data-side=buy]", timeout=10_000)
            await w.page.wait_for_selector(UP, state="attached", timeout=10_000)
            assert await w.page.is_hidden("#node-banner")
        # the node is gone: said above everything, the panels marked stale (bounded waits:
        # the page notices on its next read, every 2 s, or when the socket closes)
        await w.page.wait_for_selector(DOWN, state="attached", timeout=15_000)
        await w.page.wait_for_selector("#node-banner", state="visible", timeout=5_000)
        text = await w.page.text_content("#node-banner")
        assert text is not None and text.startswith("this node does not answer (since "), text
        assert "not live" in text, text
        assert await w.page.text_content("#lag") == "—"  # (it said "0 blocks")
        # back: the banner goes, the panels are live again
        async with running_node(cfg):
            await w.page.wait_for_selector("#conn[data-state=live]", timeout=20_000)
            await w.page.wait_for_selector(UP, state="attached", timeout=15_000)
            assert await w.page.is_hidden("#node-banner")
            await w.page.wait_for_function(
                "() => /^[0-9]+ blocks?$/.test(document.getElementById('lag').textContent)",
                timeout=10_000,
            )
        assert [e for e in w.errors if not e.endswith(RESTARTED)] == []


MARKUP = '<img src=x onerror="window.__xss=1">'


@in_module_loop
async def test_values_from_the_node_and_its_peers_are_shown_as_text(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """A peer's claimed URL and key, a settlement's hash and an error's reason and field
    carry markup: each is shown as the text it is, and no element is made of it."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        w = await new_page(b, api.base)

        async def hostile_health(route: Route) -> None:
            got = await route.fetch()
            body = await got.json()
            peer = {"key": MARKUP, "url": MARKUP, "score": MARKUP, "banned": False,
                    "lastSeen": MARKUP, "received": MARKUP}  # fmt: skip
            body["gossip"] = {**(body.get("gossip") or {}), "peers": [peer]}
            await route.fulfill(response=got, json=body)

        async def hostile_status(route: Route) -> None:
            got = await route.fetch()
            body = await got.json()
            body["inFlight"] = [{"txHash": MARKUP, "nonce": MARKUP, "matches": []}]
            body["head"] = MARKUP
            await route.fulfill(response=got, json=body)

        async def hostile_refusal(route: Route) -> None:
            await route.fulfill(status=400, json={
                "code": 100, "reason": MARKUP,
                "validationErrors": [{"field": "price", "code": 1001, "reason": MARKUP},
                                     {"field": MARKUP, "code": 1001, "reason": MARKUP}],
            })  # fmt: skip

        await w.page.route("**/health", hostile_health)
        await w.page.route("**/web/status", hostile_status)
        await w.page.route("**/v1/orders", hostile_refusal)
        await w.page.wait_for_function(
            "m => document.getElementById('peers').textContent.includes(m)", arg=MARKUP
        )
        await w.page.wait_for_function(
            "m => document.getElementById('inflight').textContent.includes(m)", arg=MARKUP
        )
        await choose_dev_account(w, chain.address(5))
        await w.page.fill("#price", "1500")
        await w.page.fill("#amount", "0.5")
        await w.page.click("#submit")
        await w.page.wait_for_function(
            "m => document.getElementById('err-price').textContent.includes(m)", arg=MARKUP
        )
        assert MARKUP in (await w.page.text_content("#err-form") or "")
        assert await w.page.text_content("#head") == MARKUP
        assert await w.page.evaluate("() => document.querySelectorAll('img').length") == 0
        assert await w.page.evaluate("() => window.__xss") is None
        assert [e for e in w.errors if "400 (Bad Request)" not in e] == []


@in_module_loop
async def test_a_dropped_socket_says_what_is_not_live(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """The node answers HTTP but its websocket stays down (a proxy that drops websockets):
    the book is still read (every 2 s), but "My orders" and the fills only move with the
    socket. After a few seconds down a banner says so and those two are dimmed; a short drop
    (a restart's reconnect) shows nothing."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    proxy = Proxy()
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        w = await proxied_page(b, api.base, proxy)
        page = w.page
        await choose_dev_account(w, chain.address(5))
        await place(w, "buy", "1500", "0.5")
        assert await page.is_hidden("#node-banner")
        proxy.down = True
        for r in proxy.routes:
            await r.close()
        await page.wait_for_selector("#conn[data-state=reconnecting]")
        await page.wait_for_selector("body[data-socket=down]", state="attached", timeout=15_000)
        text = await page.text_content("#node-banner")
        assert text is not None and text.startswith("the live connection to this node is down"), (
            text
        )
        assert "your orders and the fills" in text and await page.is_visible("#node-banner")
        assert await page.get_attribute("body", "data-node") == "up"  # (HTTP answers)
        proxy.down = False
        await page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
        await page.wait_for_selector("body[data-socket=live]", state="attached", timeout=5_000)
        assert await page.is_hidden("#node-banner")
        assert w.errors == []
