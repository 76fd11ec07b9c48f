"""The web page while its node is down (ux49, a new user's trial): the Trade form and its
Buy/Sell toggle stayed enabled, for a post that could only fail, and the Peers panel went on
saying each peer was "Last seen: now" (dimmed) for as long as the node stayed down. Now the
form is disabled, with why next to "Place order", and a peer's last sighting reads "unknown:
node down" until the node answers again."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from playwright.async_api import Browser

from sdex.node.main import serve
from tests import test_web as web
from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_web import chromium

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

FORM = (
    "() => [...document.getElementById('order-form').elements]"
    ".map(e => [e.name || e.id, e.disabled])"
)
WHY = "() => document.getElementById('submit-why')?.textContent ?? null"
SEEN = "() => [...document.querySelectorAll('#peers tbody tr')].map(r => r.cells[3]?.textContent)"


@web.in_module_loop
async def test_a_down_node_takes_no_order_and_its_peers_last_seen_is_unknown(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg2 = web.dev_config(chain, tmp_path / "n2.db", 18)
    async with running_node(cfg2) as (_n2, api2), web.browser(chromium) as b:
        url2 = api2.base  # (the port node 2 bound)
        cfg1 = web.dev_config(chain, tmp_path / "n1.db", 19, peers=(url2,))
        async with running_node(cfg1) as (n1, api):
            port1 = n1.config.port  # (cfg1's, or another if that one was taken meanwhile)
            assert n1.gossip is not None
            gossip = n1.gossip
            await wait_for(lambda: url2 in [p["url"] for p in gossip.peers.to_json()], timeout=20)
            w = await web.new_page(b, api.base)
            page = w.page
            await web.choose_dev_account(w, chain.address(5))
            await page.wait_for_function(f"() => ({SEEN})().some(s => / ago$|^now$/.test(s))")
            assert not any(off for _, off in await page.evaluate(FORM))
            assert await page.evaluate(WHY) in ("", None)
        # the node is gone (its peer still up): no order can be placed, and why is said
        await page.wait_for_selector("body[data-node=down]", state="attached", timeout=15_000)
        form = await page.evaluate(FORM)
        assert [name for name, off in form if not off] == [], form
        assert {"side", "price", "amount", "tif", "expiry", "submit"} <= {n for n, _ in form}
        why = await page.evaluate(WHY) or ""
        assert why.startswith("no orders while this node does not answer (since "), why
        described = await page.get_attribute("#submit", "aria-describedby")
        assert described is not None and "submit-why" in described.split()
        # each peer's last sighting is not known while the node does not answer
        seen = await page.evaluate(SEEN)
        assert seen and all(s == "unknown: node down" for s in seen), seen
        # back, on the port the page knows (the one node 1 bound: ``running_node`` would
        # pick another if that one were taken, and the page would wait on a port nobody serves)
        async with serve(replace(cfg1, port=port1)):
            await page.wait_for_selector("body[data-node=up]", state="attached", timeout=20_000)
            await page.wait_for_function(f"() => !({FORM})().some(([, off]) => off)")
            assert await page.evaluate(WHY) == ""
            await page.wait_for_function(f"() => ({SEEN})().every(s => s !== 'unknown: node down')")
        # (the restarted node answers 503 while it starts, as documented)
        away = (
            "ERR_CONNECTION_REFUSED",
            "Unexpected response code: 503",
            "503 (Service Unavailable)",
        )
        assert [e for e in w.errors if not e.endswith(away)] == []
