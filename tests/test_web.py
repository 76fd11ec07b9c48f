"""The web page (sdex/web) in a real browser: Debian's chromium driven by Playwright.

Against the session's Hardhat devnet and two real nodes on loopback that gossip with each
other: the page loads with no console errors and loads nothing from elsewhere; dev accounts
trade across the two nodes' pages and both pages show the fill; soft and on-chain cancels
leave both books; the API's validation errors appear next to their field; an order signed in
the page through an injected EIP-1193 wallet is byte-identical to eth-account's; and the
page's BigInt unit conversion (units.js) agrees with ``sdex.wallet`` on a table of cases.

The README's screenshots are taken by ``tests/test_user27_screenshots.py`` (a fuller book):
``SDEX_SCREENSHOTS=DIR`` keeps them; this file's own go to a temporary directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_typed_data
from playwright.async_api import (
    APIResponse,
    Browser,
    ConsoleMessage,
    Page,
    Route,
    async_playwright,
)

from sdex.chain import Sender
from sdex.chain.exchange import OrderStatus
from sdex.deployment import TokenInfo
from sdex.node.cliconfig import config_for
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.order import SignedOrder, sign_order, to_checksum
from sdex.wallet import (
    Market,
    Side,
    WalletInputError,
    fee_for,
    fmt_amount,
    fmt_price,
    limit_amounts,
    parse_decimal,
    sign_cancel,
)
from sdex.web import STATIC, find_ethers, is_loopback
from tests.conftest import Chain
from tests.nodeutil import (
    ROOT,
    free_port,
    node_config,
    running_node,
    serving,
    url_of,
    wait_for,
    with_minimums,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCREENSHOTS = os.environ.get("SDEX_SCREENSHOTS")
FILL_WITHIN = 30.0
"""Seconds within which both pages must show a fill after the crossing order is placed: a
bound for a live page on a busy machine (two nodes, Hardhat and two browser pages share 2
cores with other work in CI), not a speed: a benchmark is never a timed assertion."""

E18, E6 = 10**18, 10**6

KEY_HEX = "0x" + "11" * 32
"""An operator key for configs that are built, never run."""


# ---- browser --------------------------------------------------------------------------------


class Watched:
    """A page whose console errors, uncaught exceptions and requests are recorded."""

    def __init__(self, page: Page, origin: str) -> None:
        self.page = page
        self.origin = origin
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dev_rpc: tuple[str, ...] = ()
        """The devnet RPC a chosen dev account's funds are read from (``choose_dev_account``)."""
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))
        self.unavailable: list[str] = []
        """The URLs answered 5xx (a console error names no URL)."""
        page.on("response", lambda r: self.unavailable.append(r.url) if r.status >= 500 else None)

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text}")

    async def open(self) -> Watched:
        await self.page.goto(self.origin + "/")
        await self.page.wait_for_selector("body[data-ready=true]", timeout=15_000)
        await self.page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
        return self

    def foreign_requests(self, allowed: tuple[str, ...] = ()) -> list[str]:
        """Requests to anywhere but this node (and ``allowed`` origins)."""
        ok = (self.origin, self.origin.replace("http", "ws", 1), "data:", *self.dev_rpc, *allowed)
        return [u for u in self.requests if not u.startswith(ok)]


in_module_loop = pytest.mark.asyncio(loop_scope="module")
"""The browser tests share one event loop, so that one Chromium serves them all (a launch
costs 1-1.7 s on a loaded machine); each test's pages are in contexts of their own
(``browser``)."""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield b
        finally:
            await b.close()


@contextlib.asynccontextmanager
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The module's Chromium; every context (and so page) opened in the block is closed
    on exit, as a browser of the test's own would be: unrouted first, a route callback still
    in flight ignored (Playwright's advice). flake78b: one waiting on ``route.fetch()`` as
    its context closed failed ("Request context disposed"), and Playwright raised that at
    the module's next call: in the next test. One that failed before the exit is raised
    here, in its own test."""
    assert chromium.contexts == []
    try:
        yield chromium
    finally:
        for ctx in chromium.contexts:
            for page in ctx.pages:
                await page.unroute_all(behavior="ignoreErrors")
            await ctx.unroute_all(behavior="ignoreErrors")
            await ctx.close()


RESTARTED = (
    "ERR_CONNECTION_REFUSED",
    "Unexpected response code: 503",
    "the server responded with a status of 503 (Service Unavailable)",
)
"""The browser's errors of a page whose node stopped and started again: its requests refused
while it was down, and a reconnect or a read answered 503 by it still starting (as documented;
user25, user29: seen on a loaded machine, a fresh clone's run)."""


async def new_page(
    b: Browser, origin: str, init_script: str | None = None, clock: bool = False
) -> Watched:
    """``clock``: the page's timers and time are Playwright's (``page.clock``: running with
    the wall clock until a test moves it) from its first script on."""
    ctx = await b.new_context(viewport={"width": 1440, "height": 860})
    if init_script:
        await ctx.add_init_script(init_script)
    if clock:
        await ctx.clock.install()
    return await Watched(await ctx.new_page(), origin).open()


async def choose_dev_account(w: Watched, address: str) -> None:
    """Choose ``address``; the page then reads its funds from the devnet's RPC (README "The
    web page"), the one origin besides the node's it may reach."""
    rpc = await w.page.evaluate(
        "() => fetch('/web/dev-wallets').then((r) => r.json()).then((d) => d.rpc)"
    )
    w.dev_rpc = (str(rpc),)
    await w.page.select_option("#dev-account", address)
    await w.page.wait_for_function(  # (said checksummed, as every command says it: users89)
        "a => document.getElementById('account').textContent.includes(a)", arg=to_checksum(address)
    )


async def place(w: Watched, side: str, price: str, amount: str, tif: str = "gtc") -> str:
    """Fill the form, submit, and return the order hash the page reports."""
    page = w.page
    await page.evaluate("() => { delete document.getElementById('last-order').dataset.hash }")
    await page.check(f'input[name="side"][value="{side}"]')
    await page.fill("#price", price)
    await page.fill("#amount", amount)
    await page.select_option("#tif", tif)
    await page.click("#submit")
    await page.wait_for_selector("#last-order[data-hash]", timeout=10_000)
    h = await page.get_attribute("#last-order", "data-hash")
    assert h is not None and h.startswith("0x") and len(h) == 66, h
    return h


async def level(w: Watched, side: str, price: str) -> str | None:
    """What the page's book shows at a price (its size, base), or None: no such level."""
    size: str | None = await w.page.evaluate(
        "([s, p]) => document.querySelector(`#book tr[data-side='${s}'][data-price='${p}']`)"
        "?.dataset.size ?? null",
        [side, price],
    )
    return size


async def book_rows(w: Watched) -> list[tuple[str, str, str]]:
    """The page's book, top to bottom: (side, price, size) of each level."""
    rows: list[list[str]] = await w.page.evaluate(
        "() => [...document.querySelectorAll('#book tr[data-level]')]"
        ".map(r => [r.dataset.side, r.dataset.price, r.dataset.size])"
    )
    return [(a, b, c) for a, b, c in rows]


async def my_status(w: Watched, order_hash: str) -> str | None:
    return await w.page.get_attribute(f'#my-orders tr[data-hash="{order_hash}"]', "data-status")


async def screenshot(w: Watched, name: str, tmp: Path, *, keep: bool = False) -> Path:
    """The page at 1,440 px in ``tmp``; with ``keep``, in ``SDEX_SCREENSHOTS`` when it is set
    (only the README's screenshots keep theirs: two writers overwrote each other's)."""
    out = Path(SCREENSHOTS) if SCREENSHOTS and keep else tmp
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    await w.page.set_viewport_size({"width": 1440, "height": 540})  # full_page: the content
    await w.page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a rendered page, not a blank
    return path


# ---- nodes ----------------------------------------------------------------------------------


def dev_config(chain: Chain, db: Path, operator: int, **kw: Any) -> NodeConfig:
    return node_config(
        chain, db, operator=operator, dev_accounts=tuple(chain.deployment.accounts), **kw
    )


@contextlib.asynccontextmanager
async def two_nodes(
    chain: Chain, tmp: Path, minimums: tuple[int, int] | None = None
) -> AsyncIterator[tuple[Node, Node]]:
    """Node 1 and node 2 (which knows node 1), both serving dev wallets; until they peer.
    ``minimums``: both nodes' (WETH, USDC) minimums in base units (default none)."""
    cfg1 = dev_config(chain, tmp / "n1.db", 19)
    cfg2 = dev_config(chain, tmp / "n2.db", 18)
    if minimums is not None:
        cfg1, cfg2 = (with_minimums(cfg, chain, *minimums) for cfg in (cfg1, cfg2))
    async with (
        running_node(cfg1) as (n1, _),
        running_node(replace(cfg2, peers=(url_of(n1),))) as (n2, _),  # (the port n1 bound)
    ):
        url1, url2 = url_of(n1), url_of(n2)

        def peered() -> bool:
            assert n1.gossip is not None and n2.gossip is not None
            urls1 = [p["url"] for p in n1.gossip.peers.to_json()]
            urls2 = [p["url"] for p in n2.gossip.peers.to_json()]
            return url2 in urls1 and url1 in urls2

        await wait_for(peered, timeout=20)
        yield n1, n2


@contextlib.asynccontextmanager
async def node_and_page(
    chain: Chain,
    tmp: Path,
    chromium: Browser,
    account: int,
    db: str = "n.db",
    clock: bool = False,
    **kw: Any,
) -> AsyncIterator[tuple[Node, Watched]]:
    """A node serving dev wallets (its config changed by ``kw``, its database ``db`` in
    ``tmp``) and its page (on Playwright's clock: ``clock``, ``new_page``), with dev account
    ``account`` chosen."""
    cfg = dev_config(chain, tmp / db, 19, **kw)
    async with running_node(cfg) as (node, api), browser(chromium) as b:
        w = await new_page(b, api.base, clock=clock)
        await choose_dev_account(w, chain.address(account))
        yield node, w


async def node_fills(url: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as s, s.get(url + "/v1/fills?perPage=1000") as r:
        assert r.status == 200
        return list((await r.json())["records"])


# ---- the trading story across two nodes ----------------------------------------------------


@in_module_loop
async def test_two_pages_trade_fill_and_cancel(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    seller, buyer, unfunded = chain.address(1), chain.address(2), chain.address(3)
    async with two_nodes(chain, tmp_path) as (n1, n2), browser(chromium) as b:
        rpc = n1.config.rpc
        p1 = await new_page(b, url_of(n1))
        p2 = await new_page(b, url_of(n2))
        # the network panel: each node lists the other as a peer, and the chain head
        await p1.page.wait_for_selector(f'#peers td[title="{url_of(n2)}"]')
        await p2.page.wait_for_selector(f'#peers td[title="{url_of(n1)}"]')
        await p1.page.wait_for_function(
            "() => /^[0-9]+$/.test(document.getElementById('head').textContent)"
        )

        await choose_dev_account(p1, seller)
        await choose_dev_account(p2, buyer)

        # an ask on node 1's page; it reaches node 2's book by gossip
        ask = await place(p1, "sell", "2000.5", "1.5")
        await wait_for(lambda: _is(level(p1, "sell", "2000.5"), "1.5"))
        await wait_for(lambda: _is(level(p2, "sell", "2000.5"), "1.5"), timeout=10)
        assert await p1.page.get_attribute("#asks tr", "class") == "mine"  # highlighted
        assert await p2.page.get_attribute("#asks tr", "class") in ("", None)
        assert await p1.page.get_attribute("#asks tr", "data-price") == "2000.5"
        rest = await place(p2, "buy", "1990", "0.25")  # resting orders, for the screenshot
        deeper = [
            await place(p1, "sell", "2010", "0.8"),
            await place(p2, "buy", "1985.25", "2"),
            await place(p2, "buy", "1990", "0.5"),  # same level as `rest`: one level, 2 orders
        ]
        want = [  # asks highest first, then bids highest first; 1990: two orders, one level
            ("sell", "2010", "0.8"),
            ("sell", "2000.5", "1.5"),
            ("buy", "1990", "0.75"),
            ("buy", "1985.25", "2"),
        ]
        await wait_for(lambda: _is(book_rows(p1), want), timeout=10)
        assert len(deeper) == 3
        await screenshot(p1, "web-book.png", tmp_path)

        # a crossing bid on node 2's page: both pages show the fill with its tx (FILL_WITHIN)
        started = time.monotonic()
        bid = await place(p2, "buy", "2000.5", "1.5")
        deadline = started + FILL_WITHIN
        for w in (p1, p2):
            remaining_ms = max(1.0, (deadline - time.monotonic()) * 1000)
            await w.page.wait_for_selector("#fills tbody tr[data-tx]", timeout=remaining_ms)
        assert time.monotonic() <= deadline
        fills = await node_fills(url_of(n2))
        txs = {f["transactionHash"] for f in fills if f["orderHash"] in (ask, bid)}
        assert len(txs) == 1, fills
        tx = txs.pop()
        block = next(f["blockNumber"] for f in fills if f["transactionHash"] == tx)
        receipt = chain.rpc.call("eth_getTransactionReceipt", tx)
        assert int(receipt["status"], 16) == 1 and int(receipt["blockNumber"], 16) == block
        for w in (p1, p2):
            row = w.page.locator(f'#fills tbody tr[data-tx="{tx}"]')
            assert await row.count() == 1  # one row per match, not one per OrderFilled event
            cells = await row.locator("td").all_text_contents()
            assert cells[0] == str(block) and cells[2] == "WETH/USDC"
            assert cells[3] == "2000.5" and cells[4] == "1.5 WETH"  # the resting ask's price
            titles = [await c.get_attribute("title") for c in await row.locator("td").all()]
            assert titles[1] == tx and titles[5:7] == [to_checksum(seller), to_checksum(buyer)]
        # live status in "my orders", and the ask left both books
        await wait_for(lambda: _is(my_status(p1, ask), "filled"))
        await wait_for(lambda: _is(my_status(p2, bid), "filled"))
        for w in (p1, p2):  # (the depth follows)
            await wait_for(lambda w=w: _is(level(w, "sell", "2000.5"), None), timeout=15)
        await screenshot(p2, "web-fill.png", tmp_path)

        # a soft cancel (EIP-712 CancelOrder) from node 1's page leaves both books
        ask2 = await place(p1, "sell", "2100", "1")
        await wait_for(lambda: _is(level(p2, "sell", "2100"), "1"), timeout=10)
        await p1.page.click(f'#my-orders tr[data-hash="{ask2}"] button.soft-cancel')
        await wait_for(lambda: _is(my_status(p1, ask2), "cancelled"))
        await wait_for(lambda: _is(level(p1, "sell", "2100"), None))
        await wait_for(lambda: _is(level(p2, "sell", "2100"), None), timeout=10)

        # an on-chain cancel (Exchange.cancelOrder from the dev account) leaves both books too
        await p2.page.click(f'#my-orders tr[data-hash="{rest}"] button.chain-cancel')
        await wait_for(lambda: _is(my_status(p2, rest), "cancelled"), timeout=15)
        await wait_for(lambda: _is(level(p1, "buy", "1990"), "0.5"), timeout=10)
        rec = n2.records[bytes.fromhex(rest[2:])]
        assert chain.exchange.order_info(rec.signed.order).status.name == "CANCELLED"

        for w in (p1, p2):
            assert w.errors == [], w.errors

        # the API's validationErrors, next to the field they name: an account that revoked
        # its allowance is refused by the node (makerAmount: unfunded) → under "Amount"
        chain.weth.approve(chain.sender(3), chain.deployment.exchange, 0)
        await choose_dev_account(p1, unfunded)
        await p1.page.check('input[name="side"][value="sell"]')
        await p1.page.fill("#price", "2000")
        await p1.page.fill("#amount", "1")
        await p1.page.click("#submit")
        await p1.page.wait_for_function(
            "() => document.getElementById('err-amount').textContent.includes('makerAmount')"
        )
        assert await p1.page.get_attribute("#amount", "aria-invalid") == "true"
        # and the page's own input checks, before anything is signed
        await p1.page.fill("#amount", "0.0000000000000000001")
        err = await p1.page.text_content("#err-amount")
        assert err == "AMOUNT 0.0000000000000000001 has more decimal places than WETH's 18"
        await p1.page.fill("#price", "12,5")
        assert "PRICE must be a plain positive decimal" in (
            await p1.page.text_content("#err-price") or ""
        )

        # the browser logs the refused POST (400), and nothing else went wrong
        assert p1.errors == [
            "console: Failed to load resource: the server responded with a status of 400 "
            "(Bad Request)"
        ]
        assert p2.errors == []
        for w in (p1, p2):
            assert w.foreign_requests(allowed=(rpc,)) == []


@in_module_loop
async def test_settlement_in_flight_until_its_block(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """With automining off the settlement transaction waits in the mempool: the page lists it
    in flight, marks the matched levels as settling, and shows the fill once it is mined."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        w = await new_page(b, api.base)
        await choose_dev_account(w, chain.address(5))
        ask = await place(w, "sell", "1500", "2")
        await choose_dev_account(w, chain.address(6))
        chain.rpc.call("evm_setAutomine", False)
        try:
            await place(w, "buy", "1500", "0.5")
            row = w.page.locator("#inflight tbody tr[data-tx]")
            await row.wait_for(timeout=10_000)
            tx = await row.get_attribute("data-tx")
            assert tx is not None and chain.rpc.call("eth_getTransactionReceipt", tx) is None
            code, status = await api.get("/web/status")
            assert code == 200 and [s["txHash"] for s in status["inFlight"]] == [tx]
            assert status["inFlight"][0]["matches"][0]["restingOrderHash"] == ask
            await w.page.wait_for_selector('#asks tr.pending[data-price="1500"]')
            chain.rpc.call("evm_mine")
        finally:
            chain.rpc.call("evm_setAutomine", True)
        await w.page.wait_for_selector(f'#fills tbody tr[data-tx="{tx}"]', timeout=10_000)
        await w.page.wait_for_selector("#inflight tbody tr[data-tx]", state="detached")
        await w.page.wait_for_selector('#asks tr:not(.pending)[data-price="1500"][data-size="1.5"]')
        assert w.errors == [] and w.foreign_requests() == []


@in_module_loop
async def test_an_answer_the_websocket_overtook_does_not_undo_its_status(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """A crossing order's POST answer (its status at acceptance) can reach the page after
    the websocket's events of its fill (on a busy machine it did: "my orders" kept the
    answer's status, and the page's refresh never corrected it). Here the answer is held
    back until the fill's events are shown; the order stays filled once it comes."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        w = await new_page(b, api.base)
        await choose_dev_account(w, chain.address(5))
        await place(w, "sell", "1500", "1")
        await choose_dev_account(w, chain.address(6))
        held: list[tuple[Route, APIResponse]] = []

        async def hold(route: Route) -> None:  # the node takes it now, the page hears later
            if route.request.method != "POST":
                await route.continue_()
            else:
                held.append((route, await route.fetch()))

        await w.page.route("**/v1/orders", hold)
        await w.page.evaluate("() => { delete document.getElementById('last-order').dataset.hash }")
        await w.page.check('input[name="side"][value="buy"]')
        await w.page.fill("#price", "1500")
        await w.page.fill("#amount", "1")
        await w.page.click("#submit")
        await w.page.wait_for_selector('#my-orders tr[data-status="filled"]', timeout=15_000)
        await wait_for(lambda: bool(held))
        (route, answer), *_ = held
        body = await answer.json()
        assert body["status"] != "filled", body  # the answer is older than the events
        await route.fulfill(response=answer)
        await w.page.wait_for_selector("#last-order[data-hash]", timeout=10_000)
        assert await w.page.get_attribute("#last-order", "data-hash") == body["orderHash"]
        assert await my_status(w, body["orderHash"]) == "filled"
        # and what the page asks the node for an order of a fill (its record, or null)
        code, records = await api.get("/web/orders", hash=body["orderHash"])
        assert code == 200 and records[body["orderHash"]]["metaData"]["status"] == "filled"
        assert w.errors == [] and w.foreign_requests() == []


@in_module_loop
async def test_the_page_says_what_matching_did_and_when_the_node_is_unreachable(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """Under "Place order" the page says what happened to the order, as ``sdex order`` does
    (an IOC that met nothing read only "removed", a FOK too); a POST that never reached the
    node is said as such next to the form (it read "signing failed: Failed to fetch" under
    the account, blaming the wallet, which had signed). On a phone's width an order's cancel
    buttons are on screen."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        w = await new_page(b, api.base)

        async def said(order_hash: str, words: str) -> None:
            text = f"order {order_hash[:8]}…{order_hash[-4:]}: "
            await w.page.wait_for_function(
                "([t, w]) => { const s = document.getElementById('last-order').textContent;"
                " return s.startsWith(t) && s.endsWith(`(${w})`) }",
                arg=[text, words],
            )

        await choose_dev_account(w, chain.address(5))
        h = await place(w, "buy", "1500", "0.5", tif="ioc")
        await said(h, "no match: dropped (ioc), nothing traded")
        h = await place(w, "buy", "1500", "0.5", tif="fok")
        await said(h, "killed (fok): it could not be matched in full now; nothing traded")
        ask = await place(w, "sell", "1500", "1")
        rests = "rests in the book, no match yet: sell 1 WETH at 1500 USDC/WETH, 0 of 1 WETH filled"
        await said(ask, rests)  # (ux65: the status alone, "open", said nothing of it)
        # on a phone's width the order's cancel buttons are on screen (they were past the
        # panel's edge, "on chain" wholly hidden, unless one scrolled the panel sideways)
        await w.page.set_viewport_size({"width": 375, "height": 800})
        for button in ("soft-cancel", "chain-cancel"):
            box = await w.page.locator(f'#my-orders tr[data-hash="{ask}"] .{button}').bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375, box
        widths = await w.page.evaluate(
            "() => [...document.querySelectorAll('.panel')].map(p => p.scrollWidth - p.clientWidth)"
        )
        assert widths == [0, 0, 0]  # nothing to scroll sideways
        await w.page.set_viewport_size({"width": 1440, "height": 860})
        await choose_dev_account(w, chain.address(6))
        h = await place(w, "buy", "1500", "1", tif="fok")
        await w.page.wait_for_function(
            "() => document.getElementById('last-order').textContent.includes('(matched in full')"
        )
        await wait_for(lambda: _is(my_status(w, h), "filled"), timeout=15)
        await said(h, "matched in full")
        # (the book's depth is read again after the order events: it follows, not at once)
        await wait_for(lambda: _is(level(w, "sell", "1500"), None), timeout=15)
        assert w.errors == []

        # the node unreachable for the POST: said next to the form, not under the account
        await w.page.route("**/v1/orders", lambda route: route.abort("connectionrefused"))
        await w.page.fill("#price", "1400")
        await w.page.fill("#amount", "0.5")
        await w.page.click("#submit")
        await w.page.wait_for_function(
            "() => document.getElementById('err-form').textContent.startsWith("
            "'could not reach the node (')"
        )
        assert await w.page.text_content("#err-account") == ""
        assert w.errors == ["console: Failed to load resource: net::ERR_CONNECTION_REFUSED"]
        assert w.foreign_requests() == []


@in_module_loop
async def test_a_fill_the_chain_undid_leaves_the_page(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """A fill undone by a reorg goes from "Recent fills" (the node's fill event ``reverted``;
    the page kept showing it as a trade), and one undone while the node was down (it learns
    on restart, before the page is back) goes when the page reconnects and reads the fills."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with browser(chromium) as b:
        async with running_node(cfg) as (_node, api):
            w = await new_page(b, api.base)
            ask = chain.sign(chain.order(5, chain.weth, E18, chain.usdc, 1500 * E6))
            code, body = await api.post_order(ask)
            assert code == 201, body
            before = chain.rpc.call("evm_snapshot")
            tx = chain.exchange.fill_order(chain.sender(6), ask, 300 * E6).tx_hash
            row = f'#fills tbody tr[data-tx="{tx}"]'
            await w.page.wait_for_selector(row, timeout=10_000)
            assert await chain_undone(chain, api, before, ask) == []
            await w.page.wait_for_selector(row, state="detached", timeout=10_000)

            before = chain.rpc.call("evm_snapshot")
            taker = Sender(chain.rpc, chain.keys[6], chain.deployment.chain_id)  # (nonce: reverted)
            tx = chain.exchange.fill_order(taker, ask, 300 * E6).tx_hash
            row = f'#fills tbody tr[data-tx="{tx}"]'
            await w.page.wait_for_selector(row, timeout=10_000)
            await w.page.context.set_offline(True)  # back only once the node has undone it
        await w.page.wait_for_selector("#conn[data-state=reconnecting]", timeout=10_000)
        async with running_node(cfg) as (_node, api):
            assert await chain_undone(chain, api, before, ask) == []
            await w.page.context.set_offline(False)
            await w.page.wait_for_selector("#conn[data-state=live]", timeout=15_000)
            await w.page.wait_for_selector(row, state="detached", timeout=10_000)
        # offline, node down; a request the page began as the context went offline fails
        # as not connected (seen once in a full run on a busy machine). flaky80: the
        # restarted node finds its head gone (the fill's block undone) and re-reads the chain,
        # ``/health`` 503 "replaying" till it is done (README); a page back meanwhile reads it
        # (2 of 2 group runs under ``-n 2``): that answer only, no other route's
        away = ("ERR_INTERNET_DISCONNECTED", "ERR_CONNECTION_REFUSED", "ERR_SOCKET_NOT_CONNECTED")
        away += ("the server responded with a status of 503 (Service Unavailable)",)
        assert [e for e in w.errors if not e.endswith(away)] == []
        assert {u.split("?")[0] for u in w.unavailable} <= {w.origin + "/health"}, w.unavailable
        assert w.foreign_requests() == []


@in_module_loop
@pytest.mark.parametrize("down", ["refuses", "hangs"])
async def test_the_page_says_when_the_nodes_chain_is_down(
    chain: Chain, tmp_path: Path, chromium: Browser, down: str
) -> None:
    """The node's chain endpoint stops answering: the page says so above everything (it
    showed "live", the last chain head and a lag of 0 blocks while every order got a 503),
    and stops saying so once the chain is back. ``hangs``: it takes each request and says
    nothing (chainhang33: the page said all was well while the node was idle), named so."""
    up = asyncio.Event()
    up.set()

    async def gate(request: web.Request) -> web.Response:
        if not up.is_set():
            if down == "refuses":
                return web.Response(status=503, text="chain endpoint down")
            await up.wait()  # (hung, until the test is done)
        async with aiohttp.ClientSession() as s:
            answer = await s.post(chain.deployment.rpc, data=await request.read(), headers={
                "Content-Type": "application/json"})  # fmt: skip
            return web.Response(body=await answer.read(), content_type="application/json")

    app = web.Application()
    app.router.add_post("/", gate)
    async with serving(app) as rpc, browser(chromium) as b:
        cfg = replace(dev_config(chain, tmp_path / "n.db", 19), rpc=rpc + "/")
        async with running_node(cfg) as (node, api):
            w = await new_page(b, api.base)
            await w.page.wait_for_function(
                "() => /^[0-9]+$/.test(document.getElementById('head').textContent)"
            )
            assert await w.page.is_hidden("#chain-banner")
            node.watcher.stall = 2.0  # (a hang said after 2 s, not 5: ``STALL``)
            up.clear()
            await w.page.wait_for_selector("#chain-banner[data-chain=unreachable]", timeout=20_000)
            text = await w.page.text_content("#chain-banner")
            assert text is not None and text.startswith("this node cannot reach its chain ("), text
            assert "nothing settles until it is back" in text, text
            if down == "hangs":
                assert "has not answered a read" in text, text
            assert await w.page.is_visible("#chain-banner")
            up.set()
            await w.page.wait_for_selector("#chain-banner[data-chain=ok]", state="attached")
            assert await w.page.is_hidden("#chain-banner")
            errors = [e for e in w.errors if "503 (Service Unavailable)" not in e]  # (/health)
            assert errors == [] and w.foreign_requests() == []


@in_module_loop
async def test_my_orders_are_the_newest_of_a_busy_maker(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """A maker with more orders than "My orders" shows (100) sees its newest ones: the page
    read the API's first page, which lists a maker's orders oldest first, so the orders
    placed last (the open ones a trader wants to cancel) were missing."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        hashes = []
        for i in range(105):
            ask = chain.sign(chain.order(7, chain.weth, E18 // 100, chain.usdc, (30 + i) * E6))
            code, body = await api.post_order(ask)
            assert code == 201, body
            hashes.append(ask.hash_hex)
        w = await new_page(b, api.base)
        await choose_dev_account(w, chain.address(7))
        rows = w.page.locator("#my-orders tbody tr[data-hash]")
        await w.page.wait_for_selector(f'#my-orders tr[data-hash="{hashes[-1]}"]', timeout=10_000)
        shown = [await r.get_attribute("data-hash") for r in await rows.all()]
        assert shown == hashes[::-1][:100]  # the newest first
        assert w.errors == [] and w.foreign_requests() == []


@in_module_loop
async def test_recent_fills_are_the_newest_whatever_the_count(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """The page opens on the newest 50 trades. It read only the last page of 100 fills: with
    102 fills in all (51 matches) that page holds two, so it showed one trade of 51."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        for i in range(51):
            quote = (1000 + i) * E6 // 100
            ask = chain.sign(chain.order(8, chain.weth, E18 // 100, chain.usdc, quote))
            bid = chain.sign(chain.order(9, chain.usdc, quote, chain.weth, E18 // 100))
            for o in (ask, bid):
                code, body = await api.post_order(o)
                assert code == 201, body

        async def all_fills() -> bool:
            code, page = await api.get("/v1/fills", perPage=1)
            return code == 200 and page["total"] == 102

        await wait_for(all_fills, timeout=60)
        w = await new_page(b, api.base)
        rows = w.page.locator("#fills tbody tr[data-tx]")
        await wait_for(lambda: _is(rows.count(), 50), timeout=15)
        top = await rows.first.locator("td").all_text_contents()
        assert top[3] == "1050"  # the last match's price, newest first
        assert w.errors == [] and w.foreign_requests() == []


@in_module_loop
async def test_the_page_signs_for_the_fee_of_the_node_it_reconnected_to(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """The node restarts asking a fee: once the page is back it builds orders with that fee
    (it kept the order_config it read at load and every order was refused: feeAmount)."""
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with browser(chromium) as b:
        async with running_node(cfg) as (_node, api):
            w = await new_page(b, api.base)
            await choose_dev_account(w, chain.address(5))
            await place(w, "sell", "2500", "0.5")
        await w.page.wait_for_selector("#conn[data-state=reconnecting]", timeout=10_000)
        fee_cfg = replace(cfg, fee_bps=30, fee_recipient=chain.address(19))
        async with running_node(fee_cfg) as (_node, api):
            await w.page.wait_for_selector('#node-info[data-fee-bps="30"]', timeout=15_000)
            ask = await place(w, "sell", "2600", "0.5")
            code, rec = await api.get(f"/v1/orders/{ask}")
            assert code == 200, rec
            order = rec["order"]
            assert order["feeRecipient"] == chain.address(19)
            assert int(order["feeAmount"]) == 2600 * E6 // 2 * 30 // 10_000
            assert "fee 0.3%" in (await w.page.text_content("#node-info") or "")
            # (a reconnect that met the restarted node still starting: seen on a loaded machine)
            assert [e for e in w.errors if not e.endswith(RESTARTED)] == []


async def chain_undone(chain: Chain, api: Any, snapshot: str, order: SignedOrder) -> Any:
    """Revert the chain to ``snapshot`` and mine past it (a reorg for the node); the node's
    fills of ``order`` once its watcher has undone them."""
    assert chain.rpc.call("evm_revert", snapshot) is True
    for _ in range(3):
        chain.rpc.call("evm_mine")

    async def undone() -> bool:
        code, fills = await api.get("/v1/fills", orderHash=order.hash_hex)
        return code == 200 and fills["records"] == []

    await wait_for(undone, timeout=15)
    _code, fills = await api.get("/v1/fills", orderHash=order.hash_hex)
    return fills["records"]


async def _is(status: Any, want: object) -> bool:
    return bool(await status == want)


async def _not(cond: Any) -> bool:
    return not await cond


@in_module_loop
async def test_page_reconnects_and_shows_no_dev_wallets_without_the_flag(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """Without ``--dev-wallets`` the page offers none (and the route serves no key); when the
    node goes away the page says so and reconnects by itself when it is back."""
    cfg = node_config(chain, tmp_path / "n.db", operator=19)
    async with browser(chromium) as b:
        async with running_node(cfg) as (_node, api):
            code, body = await api.get("/web/dev-wallets")
            assert code == 200 and body == {
                "enabled": False,
                "reason": "this node was not started with --dev-wallets",
            }
            unknown = "0x" + "ab" * 32
            code, body = await api.get("/web/orders", hash=unknown)
            assert code == 200 and body == {unknown: None}
            for bad in ({"hash": "0x12"}, {}):
                code, body = await api.get("/web/orders", **bad)
                assert code == 400 and body["code"] == 100, body
            code, body = await api.get("/web/status")
            assert code == 200 and body["inFlight"] == [] and body["lag"] >= 0
            assert body["head"] == int(chain.rpc.call("eth_blockNumber"), 16)
            w = await new_page(b, api.base)
            assert await w.page.is_hidden("#dev-account")
            text = await w.page.text_content("#account")
            assert text == (  # on a devnet: how to get the dev accounts (it said only MetaMask)
                "no wallet found: install an EIP-1193 wallet (MetaMask) to trade "
                "(dev accounts: this node was not started with --dev-wallets)"
            )
            assert w.errors == [] and w.foreign_requests() == []
        await w.page.wait_for_selector("#conn[data-state=reconnecting]", timeout=10_000)
        async with running_node(cfg):
            await w.page.wait_for_selector("#conn[data-state=live]", timeout=15_000)


# ---- an injected wallet signs exactly what eth-account signs ---------------------------

INJECTED = """
(() => {
  const KEY = "%(key)s", ADDRESS = "%(address)s", CHAIN = "%(chain)s";
  window.__typed = [];
  window.__sigs = [];
  window.ethereum = {
    isTestWallet: true,
    async request({ method, params }) {
      if (method === "eth_requestAccounts" || method === "eth_accounts") return [ADDRESS];
      if (method === "eth_chainId") return CHAIN;
      if (method === "eth_signTypedData_v4") {
        const [who, json] = params;
        if (who.toLowerCase() !== ADDRESS.toLowerCase()) throw new Error("unknown account");
        const { ethers } = await import("/static/vendor/ethers.js").then((m) => ({ ethers: m }));
        const data = JSON.parse(json);
        const types = { ...data.types };
        delete types.EIP712Domain;
        const sig = await new ethers.Wallet(KEY).signTypedData(data.domain, types, data.message);
        window.__typed.push(json);
        window.__sigs.push(sig);
        return sig;
      }
      throw Object.assign(new Error("unsupported: " + method), { code: 4200 });
    },
  };
})();
"""


@in_module_loop
async def test_injected_wallet_order_is_byte_identical_to_eth_account(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    key = chain.keys[4]
    address = chain.address(4)
    fee_to = chain.address(19)
    cfg = node_config(chain, tmp_path / "n.db", operator=19, fee_bps=25, fee_recipient=fee_to)
    script = INJECTED % {
        "key": "0x" + key.hex(),
        "address": address,
        "chain": hex(chain.deployment.chain_id),
    }
    async with running_node(cfg) as (node, api), browser(chromium) as b:
        w = await new_page(b, api.base, init_script=script)
        assert await w.page.is_hidden("#dev-account")
        await w.page.click("#connect")
        await w.page.wait_for_function(
            "a => document.getElementById('account').textContent.includes(a)",
            arg=to_checksum(address),
        )
        h = await place(w, "buy", "1999.123456789", "0.333333333333333333", tif="gtc")
        code, rec = await api.get(f"/v1/orders/{h}")
        assert code == 200
        posted = SignedOrder.from_json(rec["order"], node.domain)
        assert posted.hash_hex == h

        # the same fields, signed by eth-account from the domain's typed data
        order = posted.order
        typed = node.domain.typed_data(order)
        signed = Account.sign_message(encode_typed_data(full_message=typed), key)
        assert posted.signature == signed.signature  # byte-identical (RFC 6979, low s)
        assert sign_order(order, node.domain, key).to_json() == rec["order"]
        # what the page handed the wallet is valid eth_signTypedData_v4 input for eth-account
        typed_json = json.loads((await w.page.evaluate("() => window.__typed"))[0])
        again = Account.sign_message(encode_typed_data(full_message=typed_json), key)
        assert again.signature == posted.signature

        # the amounts are the CLI's: sdex.wallet's rounding and the node's fee
        market = _market(cfg)
        amounts = limit_amounts(
            Side.BUY, parse_decimal("1999.123456789", "PRICE"),
            parse_decimal("0.333333333333333333", "AMOUNT"), market,
        )  # fmt: skip
        assert (order.maker_amount, order.taker_amount) == (
            amounts.maker_amount,
            amounts.taker_amount,
        )
        assert order.fee_amount == fee_for(order.taker_amount, 25) > 0
        assert order.fee_recipient == cfg.fee_recipient
        assert order.maker == address.lower()

        # the soft cancel's signature is sdex.wallet.sign_cancel's
        await w.page.click(f'#my-orders tr[data-hash="{h}"] button.soft-cancel')
        await wait_for(lambda: _is(my_status(w, h), "cancelled"))
        sigs = await w.page.evaluate("() => window.__sigs")
        assert sigs[1] == "0x" + sign_cancel(node.domain, posted.hash, key).hex()
        assert w.errors == [] and w.foreign_requests() == []


def _market(cfg: NodeConfig) -> Market:
    return Market("WETH", "USDC", cfg.tokens["WETH"], cfg.tokens["USDC"])


# ---- units.js against sdex.wallet ------------------------------------------------------------


def _unit_cases() -> list[tuple[str, str, str, int, int]]:
    """(side, price, amount, base decimals, quote decimals): edges, then seeded random ones."""
    cases = [
        ("buy", "2000.5", "1.5", 18, 6),
        ("sell", "2000.5", "1.5", 18, 6),
        ("buy", "1999.123456789", "0.333333333333333333", 18, 6),
        ("sell", "1999.123456789", "0.333333333333333333", 18, 6),
        ("buy", "0.000001", "0.000000000001", 18, 6),  # rounds to nothing: refused
        ("sell", "0.000001", "0.000000000001", 18, 6),  # rounds up to one unit
        ("buy", "1", "0.0000000000000000001", 18, 6),  # finer than 18 decimals
        ("sell", "3", "1", 0, 0),
        ("buy", "0.5", "3", 0, 0),
        ("buy", "1" + "0" * 80, "1" + "0" * 10, 18, 6),  # too large
        ("sell", ".5", "2.", 6, 18),
        ("buy", "0", "1", 18, 6),
        ("buy", "1", "-1", 18, 6),
        ("buy", "1e3", "1", 18, 6),
        ("sell", " 7.25 ", "\t2\n", 6, 6),
        ("buy", "1.", ".1", 1, 1),
        ("buy", "", "1", 18, 6),
        ("sell", "1" * 101, "1", 18, 6),
        ("buy", "00012.3400", "0001", 2, 8),
    ]
    rng = random.Random(14)
    for _ in range(400):
        bd, qd = rng.choice([0, 2, 6, 8, 18, 24]), rng.choice([0, 2, 6, 8, 18])

        def dec(scale: int, places: int) -> str:
            whole = str(rng.randrange(0, 10 ** rng.randrange(1, scale)))
            frac = "".join(rng.choice("0123456789") for _ in range(rng.randrange(0, places)))
            return whole + ("." + frac if frac or rng.random() < 0.1 else "")

        # amounts mostly within the base's decimals (sometimes finer: refused), prices free
        cases.append((rng.choice(["buy", "sell"]), dec(7, 14), dec(5, bd + 2), bd, qd))
    return cases


def _python_units(side: str, price: str, amount: str, bd: int, qd: int) -> dict[str, str]:
    market = Market(
        "BASE", "QUOTE", TokenInfo("0x" + "11" * 20, bd), TokenInfo("0x" + "22" * 20, qd)
    )
    try:
        p = parse_decimal(price, "PRICE")
        a = parse_decimal(amount, "AMOUNT")
        amounts = limit_amounts(Side(side), p, a, market)
    except WalletInputError as e:
        return {"error": str(e)}
    base, quote = market.base_and_quote(Side(side), amounts.maker_amount, amounts.taker_amount)
    return {
        "maker": str(amounts.maker_amount),
        "taker": str(amounts.taker_amount),
        "fee": str(fee_for(amounts.taker_amount, 30)),
        "price": fmt_price(market.price(base, quote)),
        "limit": fmt_price(Fraction(p)),
        "base": fmt_amount(base, bd),
        "quote": fmt_amount(quote, qd),
    }


JS_UNITS = """
async (cases) => {
  const u = await import("/static/units.js");
  return cases.map(([side, price, amount, bd, qd]) => {
    const market = { base: "BASE", quote: "QUOTE", baseDecimals: bd, quoteDecimals: qd };
    try {
      const p = u.parseDecimal(price, "PRICE", "price");
      const a = u.parseDecimal(amount, "AMOUNT", "amount");
      const r = u.limitAmounts(side, p, a, market);
      const buy = side === "buy";
      const [base, quote] = buy ? [r.takerAmount, r.makerAmount] : [r.makerAmount, r.takerAmount];
      return {
        maker: r.makerAmount.toString(), taker: r.takerAmount.toString(),
        fee: u.feeFor(r.takerAmount, 30).toString(),
        price: u.fmtPrice(u.priceOf(base, quote, bd, qd)), limit: u.fmtPrice(p),
        base: u.fmtAmount(base, bd), quote: u.fmtAmount(quote, qd),
      };
    } catch (e) {
      if (!(e instanceof u.InputError)) throw e;
      return { error: e.message };
    }
  });
}
"""


@in_module_loop
async def test_units_js_agrees_with_the_cli(tmp_path: Path, chromium: Browser) -> None:
    """The page's exact conversion and rounding (BigInt) give the CLI's amounts, refusals and
    messages, case by case."""
    app = web.Application()
    app.router.add_static("/static", STATIC)
    async with serving(app) as url:
        async with browser(chromium) as b:
            page = await b.new_page()
            await page.goto(f"{url}/static/style.css")
            cases = _unit_cases()
            got = await page.evaluate(JS_UNITS, [list(c) for c in cases])
        want = [_python_units(*c) for c in cases]
        mismatches = [(c, g, w) for c, g, w in zip(cases, got, want, strict=True) if g != w]
        assert mismatches == []
        assert sum("error" in w for w in want) >= 10  # the table exercises the refusals
        assert sum("error" not in w for w in want) >= 300


# ---- configuration ------------------------------------------------------------------------


def test_every_label_names_a_field_of_the_page() -> None:
    """A ``<label for=...>`` names an element of the page (the account's named "wallet",
    which is no element: clicking "Account" focused nothing, and a screen reader read the
    field unnamed)."""
    from html.parser import HTMLParser

    class Ids(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: set[str] = set()
            self.fors: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            a = dict(attrs)
            if a.get("id"):
                self.ids.add(str(a["id"]))
            if tag == "label" and a.get("for"):
                self.fors.append(str(a["for"]))

    page = Ids()
    page.feed((STATIC / "index.html").read_text())
    assert page.fors and [f for f in page.fors if f not in page.ids] == []


def test_dev_wallets_only_on_a_devnet(chain: Chain, tmp_path: Path) -> None:
    path = tmp_path / "devnet.json"
    chain.deployment.save(path)
    cfg = config_for(port=free_port(), key=KEY_HEX, deployment=path, dev_wallets=True)
    assert [a.address for a in cfg.dev_accounts] == [a.address for a in chain.deployment.accounts]
    assert config_for(port=free_port(), key=KEY_HEX, deployment=path).dev_accounts == ()
    real = replace(chain.deployment, chain_id=1)
    real.save(path)
    with pytest.raises(ValueError, match="devnet only"):
        config_for(port=free_port(), key=KEY_HEX, deployment=path, dev_wallets=True)
    assert config_for(port=free_port(), key=KEY_HEX, deployment=path).dev_accounts == ()


def test_loopback_and_ethers_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.9.10")
    assert not is_loopback("10.0.0.1") and not is_loopback(None) and not is_loopback("x")
    found = find_ethers()
    assert found is not None and found.name == "ethers.min.js"  # npm ci installed it
    monkeypatch.setenv("SDEX_ETHERS_JS", str(tmp_path / "missing.js"))
    assert find_ethers() is None


# ---- the demo keeps the network up for the page ------------------------------------------


@in_module_loop
async def test_demo_keep_serves_the_page_until_interrupted(
    tmp_path: Path, chromium: Browser
) -> None:
    """``sdex demo --keep``: after the story the nodes stay up, their page shows the story's
    fills and offers the dev accounts; SIGINT (Ctrl-C) stops every process."""
    out = tmp_path / "demo.out"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sdex.cli", "demo", "--keep", "--log-dir", str(tmp_path / "d")],
            cwd=ROOT,
            stdout=f,
            stderr=subprocess.STDOUT,
            # as a shell starts a background job: SIGINT ignored. The demo must still stop
            # on Ctrl-C (CI once ran us this way and the demo never heard it).
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        pattern = re.compile(r"node-1: (http://127\.0\.0\.1:\d+)/")

        def kept() -> bool:
            assert proc.poll() is None, out.read_text()
            return "Ctrl-C stops everything" in out.read_text()

        await wait_for(kept, timeout=240)
        text = out.read_text()
        assert "watch it in a browser: http://127.0.0.1:" in text
        m = pattern.search(text)
        assert m is not None, text
        url = m.group(1)
        async with browser(chromium) as b:
            w = await new_page(b, url)
            await w.page.wait_for_selector("#fills tbody tr[data-tx]", timeout=10_000)
            assert await w.page.locator("#dev-account option").count() > 10
            # the peers table comes with /health (its own fetch, beside /metrics): wait for it
            peers = "#peers td[title^='http://127.0.0.1:']"
            await w.page.wait_for_selector(peers, timeout=10_000)
            assert await w.page.locator(peers).count() == 2
            # a common laptop width: the story's fills fit their panel, no sideways scroll
            await w.page.set_viewport_size({"width": 1280, "height": 800})
            widths = await w.page.evaluate(
                "() => [...document.querySelectorAll('.panel')]"
                ".map(p => [p.id, p.scrollWidth, p.clientWidth])"
            )
            assert widths and all(scroll <= client for _, scroll, client in widths), widths
            assert w.errors == [] and w.foreign_requests() == []
        os.kill(proc.pid, signal.SIGINT)  # Ctrl-C, to the demo's own PID
        assert proc.wait(timeout=150) == 0, out.read_text()  # bound, not a speed claim
        assert "every process stopped" in out.read_text()
        async with aiohttp.ClientSession() as s:
            with pytest.raises(aiohttp.ClientConnectionError):
                await s.get(url + "/health", timeout=aiohttp.ClientTimeout(total=5))
    finally:
        if proc.poll() is None:  # a failed assertion: let the demo stop what it started
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


# ---- user14: a phone's width with peers; a node without the signing library ---------------


@in_module_loop
async def test_the_network_panel_fits_a_phone_with_peers(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    """user14: at 375 px the Network panel scrolled sideways once peers were listed (its
    cells would not wrap: a peer with a DNS name, banned, seen minutes ago overflowed it;
    the real loopback peer alone fitted by 14 px). Every panel fits, peers shown."""
    async with two_nodes(chain, tmp_path) as (n1, _n2), browser(chromium) as b:
        w = await new_page(b, url_of(n1))
        far = {
            "key": "0x" + "ab" * 20, "url": "https://relay-node-2.sdex.example.org:18002",
            "score": -12.5, "banned": True, "failures": 3, "lastSeen": time.time() - 600,
            "sent": 123456, "received": 1234567, "invalid": 9,
        }  # fmt: skip

        async def with_far_peer(route: Route) -> None:  # (the node's answer, one peer more)
            answer = await route.fetch()
            body = await answer.json()
            body["gossip"]["peers"].append(far)
            await route.fulfill(response=answer, json=body)

        await w.page.route("**/health", with_far_peer)
        await w.page.set_viewport_size({"width": 375, "height": 800})
        await w.page.wait_for_function(
            "() => document.querySelectorAll('#peers tbody td.mono').length >= 4"
        )
        widths = await w.page.evaluate(
            "() => [...document.querySelectorAll('.panel')].map(p => p.scrollWidth - p.clientWidth)"
        )
        assert widths == [0, 0, 0]  # nothing to scroll sideways
        page_width = await w.page.evaluate("() => document.documentElement.scrollWidth")
        assert page_width <= 375
        assert w.errors == []


@in_module_loop
async def test_an_onchain_cancel_without_the_signing_library_says_so(
    chain: Chain, tmp_path: Path, chromium: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """user14: on a node that serves no ethers bundle (node_modules missing) the page never
    started (its banner was called before ``$`` was defined: a ReferenceError), and "on
    chain" would have thrown a TypeError (ethers null). The page starts, says what is
    missing, trades through the wallet, and an on-chain cancel says why it cannot."""
    monkeypatch.setenv("SDEX_ETHERS_JS", str(tmp_path / "missing.js"))
    address = chain.address(4)
    cfg = node_config(chain, tmp_path / "n.db", operator=19)
    script = INJECTED % {"key": "0x" + chain.keys[4].hex(), "address": address,
                         "chain": hex(chain.deployment.chain_id)}  # fmt: skip
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        signed = chain.sign(chain.order(4, chain.weth, E18, chain.usdc, 3000 * E6))
        code, _ = await api.post("/v1/orders", signed.to_json())
        assert code == 201
        w = await new_page(b, api.base, init_script=script)
        banner = await w.page.text_content("#banner")
        assert banner is not None and "signing library is missing" in banner, banner
        await w.page.click("#connect")
        button = f'#my-orders tr[data-hash="{signed.hash_hex}"] .chain-cancel'
        await w.page.wait_for_selector(button)
        await w.page.click(button)
        await w.page.wait_for_function(
            "() => document.getElementById('err-form').textContent.includes('signing library')"
        )
        text = await w.page.text_content("#err-form")
        assert text is not None and "npm ci" in text, text
        assert [e for e in w.errors if "pageerror" in e] == []
        assert chain.exchange.order_info(signed.order).status is not OrderStatus.CANCELLED
