"""left77: the web page's answer to a posted order the node took but did not answer in time.

- Its POST gave up after 15 s, below a node's worst case then (a chain read of up to 8 s,
  reads76, then the wait for the order's row's commit, up to 10 s, wait74), and said "the
  order may not have been posted" of an order resting in the book: a user placed it again,
  two orders resting. Now it waits 20 s (a node answers a wallet's order within 9.5 s of its
  POST's arrival since users83, its read and its commit wait included), and an order not
  answered then (a node stuck, a proxy holding the answer) is read back by its hash (the
  page signed it: it knows it), as ``sdex order`` does (review77b), and said taken.
- A node whose store stalled past its commit wait answered 503 "the order was not stored",
  shown as is, though the order rested in its book and was stored once the store moved. The
  node's 503 now names the order, held, and the page reads it back and says so.

A real node on Hardhat (in-process: its store's writer stalled by a real SQLite trigger),
its page in Chromium, and (the late answer) a real loopback proxy in front of the node that
holds the node's answer to ``POST /v1/orders`` until the test lets it go."""

from __future__ import annotations

import threading
from pathlib import Path

from playwright.async_api import Browser, Page

from sdex.node.commitwait import ANSWER_BY
from sdex.watch.changes import STORE_WAIT
from tests.conftest import Chain
from tests.httpproxy import late_post_proxy
from tests.nodeutil import running_node, stall_writer, wait_for
from tests.test_user30_web_hung import POST_TIMEOUT_MS
from tests.test_web import (
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    my_status,
    new_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


async def form_said(page: Page) -> str:
    await page.wait_for_function(
        "() => document.getElementById('err-form').textContent !== ''", timeout=30_000
    )
    return await page.text_content("#err-form") or ""


async def placed(page: Page) -> None:
    """A buy of 0.5 WETH at 1,500 USDC submitted on the page's form."""
    await page.fill("#price", "1500")
    await page.fill("#amount", "0.5")
    await page.click("#submit")


@in_module_loop
async def test_an_order_answered_past_the_pages_wait_is_read_back(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    maker = chain.address(6)
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (node, api), browser(chromium) as b:
        with late_post_proxy(api.base) as (proxied, release):
            w = await new_page(b, proxied, clock=True)
            page = w.page
            await choose_dev_account(w, maker)
            await placed(page)
            # the node took it (its answer held by the proxy); the page's wait runs out
            await wait_for(
                lambda: any(r.signed.order.maker == maker for r in node.records.values()), 30
            )
            (held,) = [r for r in node.records.values() if r.signed.order.maker == maker]
            await page.clock.run_for(POST_TIMEOUT_MS + 1000)
            said = await form_said(page)
            release.set()
            order_hash = held.signed.hash_hex
            assert said == (
                f"the node did not answer within {POST_TIMEOUT_MS // 1000} s, but it holds the "
                "order: it was taken (read back)"
            ), said
            assert await page.get_attribute("#last-order", "data-hash") == order_hash
            assert await my_status(w, order_hash) == "open"
            await page.context.close()  # (its socket through the proxy closed first)
        assert len(node.records) == 1  # (one order: not signed again)
    assert POST_TIMEOUT_MS > ANSWER_BY * 1000  # (a node's answer is due 9.5 s from the POST)


@in_module_loop
async def test_an_order_the_node_holds_but_did_not_store_in_time_is_said_held(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    maker = chain.address(7)
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    async with running_node(cfg) as (node, api), browser(chromium) as b:
        w = await new_page(b, api.base)
        page = w.page
        await choose_dev_account(w, maker)
        node.store_wait = 1.0  # (10 s in a node: the same answer, sooner)
        gate = threading.Event()
        await stall_writer(node, gate, "hold_rows BEFORE INSERT ON orders")
        try:
            await placed(page)
            said = await form_said(page)
            (held,) = [r for r in node.records.values() if r.signed.order.maker == maker]
        finally:
            gate.set()
        node.store_wait = STORE_WAIT
        order_hash = held.signed.hash_hex
        assert said.startswith(
            f"the node answered HTTP 503: the node holds order {order_hash} (taken: it may "
            "trade) but has not stored it: not committed within 1 s (the store stalls)"
        ), said
        assert said.endswith(
            "; read back, it holds the order: it was taken, not yet stored (a restart of the "
            "node before it stores it would lose it)"
        ), said
        assert await page.get_attribute("#last-order", "data-hash") == order_hash
        assert await my_status(w, order_hash) == "open"
        # its row committed once the store moved: nothing lost
        await wait_for(lambda: node.store.order_now(order_hash) is not None, 30)
