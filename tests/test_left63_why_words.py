"""left63: "My orders" says why an order stopped in the node's words, its bare outcome words
("dropped", "killed") said as ``sdex order`` says them, looked up in a table
(``whyWords``, units.js). The lookup took inherited keys too: a reason "__proto__" or
"constructor" read the table's prototype (an object) or its constructor (a function), not
a string, and the row broke (``words.length``, ``words.slice``). Real Chromium."""

from __future__ import annotations

from aiohttp import web
from playwright.async_api import Browser

from sdex.web import STATIC
from tests.nodeutil import serving
from tests.test_web import browser, chromium, in_module_loop

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

CASES = {
    "dropped": "ioc: no match, nothing traded",
    "killed": "fok: could not be matched in full, nothing traded",
    "__proto__": "__proto__",
    "constructor": "constructor",
    "toString": "toString",
    "hasOwnProperty": "hasOwnProperty",
    "evicted: unfunded too long": "evicted: unfunded too long",
}


@in_module_loop
async def test_a_reason_named_as_an_objects_own_keys_is_said_as_it_is(chromium: Browser) -> None:
    app = web.Application()
    app.router.add_static("/static", STATIC)
    async with serving(app) as url, browser(chromium) as b:
        page = await b.new_page()
        await page.goto(f"{url}/static/style.css")
        got = await page.evaluate(
            """async (reasons) => {
                const u = await import("/static/units.js");
                return reasons.map((r) => {
                    const w = u.whyWords(r);
                    return typeof w === "string" ? w : `not a string: ${typeof w}`;
                });
            }""",
            list(CASES),
        )
    assert got == list(CASES.values())
