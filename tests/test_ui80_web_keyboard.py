"""Keyboard use of "My orders" (ui80's trial: the table is drawn again at every event of the
account's orders, its buttons with it, so a keyboard user on an order's `cancel` lost the
focus, to the page's body, whenever another of its orders changed (a fill, a cancel from
elsewhere): Enter then did nothing; and pressing `cancel` itself left the focus nowhere).
The focus stays on the same order's button, or on its row once that button is gone. A real
node serving dev wallets, orders posted to it, Chromium."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from playwright.async_api import Browser

from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for
from tests.test_web import (
    E6,
    E18,
    Watched,
    _is,
    chromium,
    in_module_loop,
    my_status,
    node_and_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


async def focused(w: Watched) -> str:
    """Where the focus is: the order hash of its row in "My orders" and the button's class
    ("row" for the row itself), or the element's tag elsewhere."""
    where: str = await w.page.evaluate(
        "() => { const e = document.activeElement; const tr = e?.closest('#my-orders tr');"
        " if (!tr) return e?.tagName ?? '';"
        " return `${tr.dataset.hash} ${e === tr ? 'row' : e.className}` }"
    )
    return where


@contextlib.asynccontextmanager
async def node_api(w: Watched) -> AsyncIterator[Api]:
    """A client of the page's node."""
    async with aiohttp.ClientSession() as s:
        yield Api(s, w.origin)


@in_module_loop
async def test_the_focus_stays_on_an_orders_button_as_my_orders_change(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    maker = 14
    async with node_and_page(chain, tmp_path, chromium, account=maker) as (node, w):
        first, second = (
            chain.sign(chain.order(maker, chain.weth, E18 // 100, chain.usdc, (90 + i) * E6))
            for i in range(2)
        )
        async with node_api(w) as api:
            for o in (first, second):
                code, body = await api.post_order(o)
                assert code == 201, body
            for o in (first, second):
                await w.page.wait_for_selector(
                    f'#my-orders tr[data-hash="{o.hash_hex}"][data-status=open]', timeout=15_000
                )
            cancel = f'#my-orders tr[data-hash="{first.hash_hex}"] button.soft-cancel'
            await w.page.focus(cancel)
            assert await focused(w) == f"{first.hash_hex} link soft-cancel"

            # the other order changes (cancelled from elsewhere): the table is drawn again
            key = chain.keys[maker]
            sig = "0x" + sign_cancel(node.domain, second.hash, key).hex()
            code, body = await api.post(f"/v1/orders/{second.hash_hex}/cancel", {"signature": sig})
            assert code < 300, body
            await wait_for(lambda: _is(my_status(w, second.hash_hex), "cancelled"), timeout=15)
            assert await focused(w) == f"{first.hash_hex} link soft-cancel"

            # Enter cancels the focused order; its row keeps the focus (its buttons gone)
            await w.page.keyboard.press("Enter")
            await wait_for(lambda: _is(my_status(w, first.hash_hex), "cancelled"), timeout=15)
            assert await focused(w) == f"{first.hash_hex} row"
        assert w.errors == [] and w.foreign_requests(w.dev_rpc) == []
