"""Left53: an IOC or FOK order placed from the page that met nothing for the node's landing
time (the order it crosses expires before a settlement could land: left50's reason
"dropped: …" / "killed: …", which ``sdex order`` shows) read only "no match: dropped (ioc),
nothing traded" on the page, as if nothing crossed it. The page now says the node's reason
after its words, as ``sdex order`` does."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from playwright.async_api import Browser

from tests.conftest import Chain
from tests.nodeutil import Api
from tests.test_node import ALICE, E6, E18, ask
from tests.test_review49_landing_and_prune import STALL, stalled_trade
from tests.test_web import chromium, in_module_loop, node_and_page, place, url_of

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_the_page_says_why_an_ioc_met_nothing_for_the_landing_time(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    async with (
        node_and_page(c, tmp_path, chromium, 6) as (node, w),
        aiohttp.ClientSession() as session,
    ):
        api = Api(session, url_of(node))
        await stalled_trade(c, node, api)  # (its settlement landed STALL s after it formed)
        assert node.settler.stages.landing >= STALL - 1
        soon = c.sign(ask(c, ALICE, E18, 3000 * E6, expiry=node.chain_time() + 4))
        assert (await api.post_order(soon))[0] == 201
        for tif, word in (("ioc", "no match: dropped (ioc), nothing traded"), ("fok", "killed")):
            h = await place(w, "buy", "3100", "0.5", tif=tif)
            await w.page.wait_for_function(
                "([h, w]) => { const s = document.getElementById('last-order').textContent;"
                " return s.startsWith(`order ${h.slice(0, 8)}`) && s.includes(`(${w}`)"
                " && s.includes(' — ') }",
                arg=[h, word],
            )
            said = await w.page.text_content("#last-order") or ""
            assert " — the orders it crosses expire within" in said, said  # before: no reason
        far = await place(w, "buy", "1000", "0.5", tif="ioc")  # nothing crossing: as before
        await w.page.wait_for_function(
            "h => document.getElementById('last-order').textContent.startsWith("
            "`order ${h.slice(0, 8)}`) && document.getElementById('last-order')"
            ".textContent.endsWith('(no match: dropped (ioc), nothing traded)')",
            arg=far,
        )
        assert w.errors == []
