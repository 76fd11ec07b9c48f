"""The web page's "My orders" while orders arrive as it reads them (a real node, Chromium).

The page reads a maker's newest orders from the end of ``GET /v1/orders`` (oldest first):
before (cursor17) it read the first page for ``total``, then the last two pages by number
computed from it. Orders placed between those reads (a busy maker, or another of its
tabs) are past the pages read: they came by the websocket, were put in the list before the
pages' orders arrived, and the 100 shown were the pages' (the newest missing), or they
were shown as the oldest."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Route

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_web import (  # noqa: F401 (chromium: the module's browser, a fixture)
    E6,
    E18,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
)

MAKER = 7
SHOWN = 100
"""The orders "My orders" shows (``MAX_MY_ORDERS``)."""


@in_module_loop
async def test_my_orders_are_the_newest_while_orders_arrive_between_reads(
    chain: Chain,
    tmp_path: Path,
    chromium: Browser,  # noqa: F811 (the fixture imported)
) -> None:
    """A maker with 200 orders (two pages exactly) places 3 more after the page read the
    first page and before it reads the next, and the page has shown them (the websocket's
    events): "My orders" shows the newest 100 of 203, newest first."""
    c = chain
    cfg = dev_config(c, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        hashes = []
        for i in range(200 + 3):
            ask = c.sign(c.order(MAKER, c.weth, E18 // 100, c.usdc, (30 + i) * E6))
            hashes.append(ask)
        for s in hashes[:200]:
            code, body = await api.post_order(s)
            assert code == 201, body
        w = await new_page(b, api.base)
        late = hashes[200:]
        placed: list[str] = []

        async def between_reads(route: Route) -> None:
            url = route.request.url
            if "maker=" in url and "page=1&" not in url + "&" and not placed:
                for s in late:
                    code, body = await api.post_order(s)
                    assert code == 201, body
                    placed.append(s.hash_hex)
                for h in placed:  # (shown by their events before the page's read answers)
                    await w.page.wait_for_selector(f'#my-orders tr[data-hash="{h}"]')
            await route.continue_()

        await w.page.route("**/v1/orders?*", between_reads)
        await choose_dev_account(w, c.address(MAKER))
        rows = w.page.locator("#my-orders tbody tr[data-hash]")
        newest = [s.hash_hex for s in hashes[::-1][:SHOWN]]

        async def shown() -> bool:
            got = [await r.get_attribute("data-hash") for r in await rows.all()]
            return got == newest

        await wait_for(lambda: bool(placed), timeout=15)
        try:
            await wait_for(shown, timeout=15)
        finally:
            got = [await r.get_attribute("data-hash") for r in await rows.all()]
            where = {s.hash_hex: i for i, s in enumerate(hashes)}
            print("shown (order index, newest first):", [where.get(h) for h in got][:8], len(got))
        assert w.errors == [] and w.foreign_requests() == []
