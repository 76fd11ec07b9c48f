"""A test's page closed with a route callback still in flight fails nothing after it.

flake78b (a fresh clone's CI run at load ~20): ``test_user25_web_down``'s
``hostile_status`` callback was waiting on ``route.fetch()`` (the page's ``/web/status``,
every 2 s) as ``browser`` closed the test's context; the fetch failed ("Request context
disposed"), Playwright kept that error, and the module's next Playwright call raised it: the
next test (``test_a_dropped_socket_says_what_is_not_live``) failed with another test's
``TargetClosedError``. ``browser`` now unroutes every page and context it closes first,
Playwright's own advice (``unroute_all(behavior="ignoreErrors")``): a callback cut short by
the close is ignored; one that failed before it is still raised, in its own test. A real
Chromium, a real aiohttp server on loopback holding the fetched answer."""

from __future__ import annotations

import asyncio

from aiohttp import web
from playwright.async_api import Browser, Route

from tests.nodeutil import serving, wait_for
from tests.test_web import browser, chromium, in_module_loop

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


@in_module_loop
async def test_a_route_callback_cut_short_by_the_close_is_not_raised_later(
    chromium: Browser,
) -> None:
    asked, answer = asyncio.Event(), asyncio.Event()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(text="<p>here</p>", content_type="text/html")

    async def held(_request: web.Request) -> web.Response:  # (answered once the test ends)
        asked.set()
        async with asyncio.timeout(60):
            await answer.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/held", held)
    callbacks: list[asyncio.Task[object]] = []

    async def through(route: Route) -> None:  # (as the hostile_* callbacks of user25's)
        task = asyncio.current_task()
        assert task is not None
        callbacks.append(task)
        got = await route.fetch()
        await route.fulfill(response=got)

    async with serving(app) as url:
        try:
            async with browser(chromium) as b:
                p = await b.new_page()
                await p.goto(url + "/")
                await p.route("**/held", through)
                await p.evaluate("() => { fetch('/held').catch(() => {}) }")
                await wait_for(asked.is_set, timeout=30)  # (the callback waits on its fetch)
            # the page closed: the callback's fetch failed, its task ended
            async with asyncio.timeout(30):
                await asyncio.wait(callbacks)
            await asyncio.sleep(0)  # (its end reported: a done callback of its task)
            ctx = await chromium.new_context()  # (the next call: raised the callback's error)
            await ctx.close()
        finally:
            answer.set()
