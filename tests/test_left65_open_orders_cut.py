"""A wallet with more open orders at a node than the funds line reads (review65): the web
page's ``openOrdersOf`` read at most 5 pages of 1,000 of each open status and stopped there
silently, so its funds line said an amount free that the unread orders may hold; ``sdex
balance`` stopped with an error at its 10 pages of 500. Both now show what was read, as
bounds ("at least" held, "at most" free), and say the same sentence; the command exits 1.

The page's reads are made short here by rewriting their ``perPage=1000`` to 1 on the way to
the node (Playwright's routing; the node, the page and the chain are real): that stands for
a node listing over 5,000 open orders of one maker (above the default per-maker limit of
1,000), which would take minutes to build."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, Route

from sdex import walletfunds
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import running_node
from tests.reorgutil import soft_cancel
from tests.test_cli_node import cli, key, node, one_line
from tests.test_web import (
    Watched,
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

MAKER = 10
E6, E18 = 10**6, 10**18


def note(*cut: str) -> str:
    return (
        f"the node lists more than {', '.join(cut)} orders of this wallet (only those were "
        "read): in open orders at least, and free at most, what is shown"
    )


async def short_reads(w: Watched) -> None:
    """The page's reads of one open status's listing ask 1 record a page (its 5 pages: 5)."""

    async def one_a_page(route: Route) -> None:
        url = route.request.url
        if "status=" in url:
            await route.continue_(url=url.replace("perPage=1000", "perPage=1"))
        else:
            await route.continue_()

    await w.page.route(re.compile(r".*/v1/orders\?.*"), one_a_page)


async def funds_line(w: Watched, held: int, partial: bool) -> str:
    """The WETH funds line once it says ``held`` (base units) read ``partial``ly; its text."""
    await w.page.wait_for_function(
        """([held, partial]) => {
            const el = document.querySelector("#funds [data-token='WETH']");
            return !!el && el.dataset.held === held && el.dataset.partial === partial;
        }""",
        arg=[str(held), "true" if partial else "false"],
        timeout=15_000,
    )
    return await w.page.text_content("#funds") or ""


@in_module_loop
async def test_the_page_says_its_funds_are_bounds_when_open_orders_were_left_unread(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    c = chain
    me = c.address(MAKER)
    weth = c.weth.balance_of(me)
    cfg = dev_config(c, tmp_path / "n.db", 19)
    async with running_node(cfg) as (_node, api), browser(chromium) as b:
        sells: list[SignedOrder] = []
        for i in range(7):  # seven resting sells of 1 WETH, older than the newest 100: 5 read
            s = c.sign(c.order(MAKER, c.weth, E18, c.usdc, (99_000 + i) * E6))
            code, body = await api.post_order(s)
            assert code == 201 and body["status"] == "open", body
            sells.append(s)
        for i in range(100):  # (no bid: each is dropped; "My orders" lists these newest 100)
            ioc = c.sign(c.order(MAKER, c.weth, E18 // 100, c.usdc, (99_000 + i) * E6 // 100))
            code, body = await api.post_order(ioc, "ioc")
            assert code == 201 and body["status"] == "removed", body
        w = await new_page(b, api.base)
        await short_reads(w)
        await choose_dev_account(w, me)
        text = await funds_line(w, 5 * E18, partial=True)
        assert "in your open orders here: at least 5 ·" in text, text
        assert f"free for new orders: at most {(weth - 5 * E18) // E18}" in text, text
        assert note("5 open") in text, text
        # the preview's note on an order larger than what is free says it is at most that
        await w.page.check('input[name="side"][value="sell"]')
        await w.page.fill("#price", "99999")
        await w.page.fill("#amount", str(weth // E18))
        await w.page.wait_for_function(
            "s => document.getElementById('preview').textContent.includes(s)",
            arg="the wallet has at most ",
            timeout=10_000,
        )

        # two cancelled: five left, all read in the 5 pages (the last says no next): exact
        for s in sells[:2]:
            await soft_cancel(c, api, s, MAKER)
        w2 = await new_page(b, api.base)
        await short_reads(w2)
        await choose_dev_account(w2, me)
        text = await funds_line(w2, 5 * E18, partial=False)
        assert "in your open orders here: 5 ·" in text, text
        assert "at least" not in text and "at most" not in text, text
        assert w.errors == w2.errors == [] and w.foreign_requests() == []


def test_sdex_balance_says_the_same_when_open_orders_were_left_unread(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sdex balance`` reads 2 pages of 1 here (of 10 of 500): three open orders are one
    more than it reads."""
    c = chain
    monkeypatch.setattr(walletfunds, "OPEN_PER_PAGE", 1)
    monkeypatch.setattr(walletfunds, "OPEN_PAGES", 2)
    with node(c, tmp_path) as (url, deployment):
        mine = ["--key", key(c, MAKER)]
        for price in ("99997", "99998", "99999"):
            r = cli("order", "sell", price, "1", "--node", url, *mine)
            assert r.exit_code == 0 and "rests in the book" in r.output, r.output
        args = ["balance", "--node", url, "--deployment", str(deployment), *mine]
        r = cli(*args)
        assert r.exit_code == 1, r.output
        out = one_line(r.output)
        assert re.search(r"│ WETH │ [0-9.]+ │ unlimited │ at least 2 │ at most [0-9.]+ │", out), out
        assert note("2 open") in out, out
        r = cli(*args, "--json")
        assert r.exit_code == 1, r.output
        body = json.loads(r.output)
        assert body["openOrders"] == 2 and body["openOrdersNotAllRead"] == note("2 open"), body
        assert body["tokens"]["WETH"]["held"] == str(2 * E18), body
