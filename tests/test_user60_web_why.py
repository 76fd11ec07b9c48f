"""user60: "My orders" says why an order that did not trade stopped.

Found as a trader on `make demo KEEP=1`'s page: an IOC that met nothing, a FOK killed, a soft
cancel, an order evicted or whose settlement failed all read only their status ("removed",
"cancelled") in "My orders"; the node's reason was in the line under the form for the newest
order only, and gone after a reload. Now each such row says it under the status, in
`sdex order`'s words for the node's bare outcomes."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.test_web import (  # noqa: F401 (chromium: the module's browser, a fixture)
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
    place,
)


@in_module_loop
async def test_my_orders_say_why_an_order_stopped_after_a_reload(
    chain: Chain,
    tmp_path: Path,
    chromium: Browser,  # noqa: F811 (the fixture imported)
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, _api), browser(chromium) as b:
        w = await new_page(b, _api.base)
        await choose_dev_account(w, chain.address(5))
        ioc = await place(w, "buy", "1500", "0.5", tif="ioc")
        fok = await place(w, "buy", "1500", "0.5", tif="fok")
        gtc = await place(w, "buy", "1400", "0.5")
        await w.page.click(f'#my-orders tr[data-hash="{gtc}"] .soft-cancel')
        await w.page.wait_for_selector(f'#my-orders tr[data-hash="{gtc}"][data-status=cancelled]')
        want = {
            ioc: "ioc: no match, nothing traded",
            fok: "fok: could not be matched in full, nothing traded",
            gtc: "soft cancel by the maker",
        }
        for _ in range(2):  # as placed, and as a reload reads them from the node
            for h, words in want.items():
                row = w.page.locator(f'#my-orders tr[data-hash="{h}"] .why')
                await row.wait_for(timeout=10_000)
                assert await row.text_content() == words, h
            await w.page.reload()
            await w.page.wait_for_selector("body[data-ready=true]", timeout=15_000)
            await choose_dev_account(w, chain.address(5))
        # on the narrowest phone (320 px) the reasons fold within their panel
        await w.page.set_viewport_size({"width": 320, "height": 800})
        widths = await w.page.evaluate(
            "() => [...document.querySelectorAll('.panel')].map(p => p.scrollWidth - p.clientWidth)"
        )
        assert set(widths) == {0}, widths
        await w.page.screenshot(path=str(tmp_path / "why-320.png"), full_page=True)
        await w.page.set_viewport_size({"width": 1440, "height": 860})
        # a resting order says nothing more than its status
        gtc2 = await place(w, "buy", "1300", "0.5")
        row = f'#my-orders tr[data-hash="{gtc2}"]'
        await w.page.wait_for_selector(row)
        assert await w.page.locator(f"{row} .why").count() == 0
        assert w.errors == [] and w.foreign_requests() == []
