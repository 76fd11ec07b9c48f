"""The web page's order book, kept from the node's book events on ``/v1/ws`` (a snapshot,
then updates by ``seq``): it follows orders placed and filled without reading
``/v1/orderbook`` (nor ``/v1/depth``) while the socket is up, asks for a fresh snapshot
when an update is missing, reads ``/v1/depth`` only while the socket is down, and stops
once it is back. The socket runs through Playwright's websocket routing (a proxy to the
real node that can drop a message or refuse the connection)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.async_api import Browser, WebSocketRoute

from tests.conftest import Chain
from tests.nodeutil import running_node, wait_for
from tests.test_web import (
    Watched,
    _is,
    book_rows,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    level,
    place,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


class Proxy:
    """The page's ``/v1/ws`` passed to the node, recording the page's book requests;
    ``drop`` book updates are left out (a gap), and while ``down`` a connection is
    closed at once (the node unreachable over websockets, its HTTP still up)."""

    def __init__(self) -> None:
        self.subscribes = 0
        self.drop = 0
        self.down = False
        self.routes: list[WebSocketRoute] = []

    async def handle(self, ws: WebSocketRoute) -> None:
        if self.down:
            await ws.close()
            return
        self.routes.append(ws)
        server = ws.connect_to_server()

        def from_page(msg: str | bytes) -> None:
            if isinstance(msg, str) and '"subscribe"' in msg:
                self.subscribes += 1
            server.send(msg)

        def from_server(msg: str | bytes) -> None:
            if self.drop and isinstance(msg, str):
                ev = json.loads(msg)
                if ev.get("type") == "book" and ev.get("event") == "update":
                    self.drop -= 1
                    return
            ws.send(msg)

        ws.on_message(from_page)
        server.on_message(from_server)


async def proxied_page(b: Browser, base: str, proxy: Proxy) -> Watched:
    """A page of the node at ``base`` whose websocket goes through ``proxy``."""
    ctx = await b.new_context(viewport={"width": 1440, "height": 860})
    page = await ctx.new_page()
    await page.route_web_socket(re.compile(r".*/v1/ws$"), proxy.handle)
    return await Watched(page, base).open()


def reads(w: Watched, path: str) -> int:
    return sum(1 for u in w.requests if path in u)


@in_module_loop
async def test_the_book_follows_the_websocket_and_polls_only_while_it_is_down(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    proxy = Proxy()
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        w = await proxied_page(b, api.base, proxy)
        page = w.page
        await wait_for(lambda: proxy.subscribes == 1)

        # orders placed and filled: the book follows from the events alone
        await choose_dev_account(w, chain.address(5))
        await place(w, "sell", "1500", "2")
        await place(w, "sell", "1600", "1")
        await wait_for(lambda: _is(book_rows(w), [("sell", "1600", "1"), ("sell", "1500", "2")]))
        assert await page.get_attribute('#asks tr[data-price="1500"]', "class") == "mine"
        await choose_dev_account(w, chain.address(6))
        await place(w, "buy", "1500", "0.5")  # crosses: 0.5 of the 1500 ask is matched
        await wait_for(lambda: _is(level(w, "sell", "1500"), "1.5"), timeout=10)
        await page.wait_for_selector("#fills tbody tr[data-tx]", timeout=15_000)
        await place(w, "buy", "1450", "1")
        await wait_for(lambda: _is(level(w, "buy", "1450"), "1"))
        assert await page.get_attribute('#bids tr[data-price="1450"]', "class") == "mine"

        # (settled: no longer "pending" once the page's next /web/status read, every 2 s,
        # has the settlement mined; the fill's row can come before it: fresh-clone run)
        async def plain_ask_row() -> bool:
            return await page.get_attribute('#asks tr[data-price="1500"]', "class") in ("", None)

        await wait_for(plain_ask_row, timeout=10)
        assert reads(w, "/v1/orderbook") == 0 and reads(w, "/v1/depth") == 0
        assert proxy.subscribes == 1

        # an update lost on the way: the next one's seq jumps, the page asks for a snapshot
        proxy.drop = 1
        await place(w, "buy", "1400", "1")
        await wait_for(lambda: proxy.drop == 0)
        await place(w, "buy", "1300", "2")
        await wait_for(lambda: proxy.subscribes == 2)
        await wait_for(lambda: _is(level(w, "buy", "1400"), "1"))
        await wait_for(lambda: _is(level(w, "buy", "1300"), "2"))
        assert reads(w, "/v1/orderbook") == 0 and reads(w, "/v1/depth") == 0

        # the socket down: the page reads /v1/depth meanwhile, and sees what changed
        proxy.down = True
        for r in proxy.routes:
            await r.close()
        await page.wait_for_selector("#conn[data-state=reconnecting]")
        await place(w, "buy", "1200", "3")
        await wait_for(lambda: _is(level(w, "buy", "1200"), "3"), timeout=10)
        assert reads(w, "/v1/depth") >= 1 and reads(w, "/v1/orderbook") == 0

        # back: a fresh snapshot on the socket, and no more polling
        subscribed = proxy.subscribes
        proxy.down = False
        await page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
        polled = reads(w, "/v1/depth")
        await wait_for(lambda: proxy.subscribes == subscribed + 1)
        await place(w, "buy", "1100", "1")
        await wait_for(lambda: _is(level(w, "buy", "1100"), "1"))
        assert reads(w, "/v1/depth") == polled and reads(w, "/v1/orderbook") == 0
        assert [r for r in await book_rows(w) if r[0] == "buy"] == [
            ("buy", "1450", "1"),
            ("buy", "1400", "1"),
            ("buy", "1300", "2"),
            ("buy", "1200", "3"),
            ("buy", "1100", "1"),
        ]
        assert w.errors == [] and w.foreign_requests() == []
