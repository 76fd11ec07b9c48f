"""The node's minimum order size on the page (user28's trial): an order below it, placed from
the page, was signed, posted and refused by the node, and the page showed the node's words
under "Amount": "makerAmount: makerAmount 10000000000000 is below this node's minimum
100000000000000 for 0xe7f1...", base units and a token address. The CLI wallet refuses such
an order before signing, in the token's units, from ``order_config``'s ``minAmount``
(tests/test_wallet_minimum.py); the page now does the same, with the same words, and says
the minimums where the order's preview goes before anything is typed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from aiohttp import web
from playwright.async_api import Browser

from sdex.deployment import TokenInfo
from sdex.wallet import Market, Side, WalletInputError, limit_amounts, parse_decimal
from sdex.web import STATIC
from tests.conftest import Chain
from tests.nodeutil import running_node, serving
from tests.test_web import (
    browser,
    choose_dev_account,
    chromium,
    dev_config,
    in_module_loop,
    new_page,
)

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

# (side, price, amount, base decimals, quote decimals, base minimum, quote minimum)
CASES = [
    ("sell", "2000", "0.0001", 18, 6, 10**14, 100),  # the base minimum exactly: taken
    ("sell", "2000", "0.00001", 18, 6, 10**14, 100),
    ("buy", "1500", "0.00000001", 18, 6, 10**14, 100),
    ("buy", "0.01", "0.001", 18, 6, 10**14, 100),  # the quote below: raise AMOUNT or PRICE
    ("sell", "0.1", "0.001", 18, 6, 10**14, 100),  # the quote minimum exactly
    ("buy", "0.5", "0.0001", 18, 6, 10**14, 100),  # the trial's: 0.00005 USDC
    ("sell", "2", "0.5", 18, 6, 10**18, 0),  # WETH=1 set by the operator, USDC none
    ("buy", "2", "3", 0, 0, 0, 7),  # 6 quote units below 7
    ("buy", "1", "1", 18, 6, 0, 0),  # no minimum known (an older node)
]  # fmt: skip


def _python(side: str, price: str, amount: str, bd: int, qd: int, bmin: int, qmin: int) -> str:
    market = Market(
        "WETH",
        "USDC",
        TokenInfo("0x" + "11" * 20, bd, min_amount=bmin),
        TokenInfo("0x" + "22" * 20, qd, min_amount=qmin),
    )
    try:
        a = limit_amounts(
            Side(side), parse_decimal(price, "PRICE"), parse_decimal(amount, "AMOUNT"), market
        )
    except WalletInputError as e:
        return str(e)
    return f"{a.maker_amount}/{a.taker_amount}"


JS = """
async (cases) => {
  const u = await import("/static/units.js");
  return cases.map(([side, price, amount, bd, qd, bmin, qmin]) => {
    const market = { base: "WETH", quote: "USDC", baseDecimals: bd, quoteDecimals: qd,
                     baseMin: BigInt(bmin), quoteMin: BigInt(qmin) };
    try {
      const r = u.limitAmounts(side, u.parseDecimal(price, "PRICE", "price"),
                               u.parseDecimal(amount, "AMOUNT", "amount"), market);
      return `${r.makerAmount}/${r.takerAmount}`;
    } catch (e) {
      if (!(e instanceof u.InputError)) throw e;
      return e.message;
    }
  });
}
"""


@in_module_loop
async def test_units_js_refuses_below_the_minimum_as_the_cli_does(chromium: Browser) -> None:
    app = web.Application()
    app.router.add_static("/static", STATIC)
    async with serving(app) as url, browser(chromium) as b:
        page = await b.new_page()
        await page.goto(f"{url}/static/style.css")
        got = await page.evaluate(JS, [[*c[:5], str(c[5]), str(c[6])] for c in CASES])
    want = [_python(*c) for c in CASES]
    assert got == want
    assert sum("below this node's minimum" in w for w in want) == 6  # the table refuses


@in_module_loop
async def test_the_page_refuses_an_order_below_the_minimum_before_signing(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    cfg = dev_config(chain, tmp_path / "n.db", 19)
    minimums = {chain.weth.address: 10**14, chain.usdc.address: 100}  # (sdex node's defaults)
    cfg = replace(cfg, limits=replace(cfg.limits, min_amounts=minimums))
    async with running_node(cfg) as (node, api), browser(chromium) as b:
        w = await new_page(b, api.base)
        await choose_dev_account(w, chain.address(4))
        page = w.page
        # said before anything is typed, where the order's preview goes
        minimum = "this node's minimum order size: 0.0001 WETH and 0.0001 USDC"
        assert await page.text_content("#preview") == minimum
        for side, price, amount, said in [
            ("sell", "2010", "0.00001",
             "0.00001 WETH is below this node's minimum order size, 0.0001 WETH: raise AMOUNT"),
            ("buy", "0.5", "0.0001",
             "0.00005 USDC is below this node's minimum order size, 0.0001 USDC: raise AMOUNT "
             "or PRICE"),
        ]:  # fmt: skip
            await page.check(f'input[name="side"][value="{side}"]')
            await page.fill("#price", price)
            await page.fill("#amount", amount)
            # said as soon as typed (the preview), and again on submit, which posts nothing
            assert await page.text_content("#err-amount") == said
            await page.click("#submit")
            assert await page.text_content("#err-amount") == said
            assert await page.get_attribute("#amount", "aria-invalid") == "true"
        assert node.records == {}
        assert not [r for r in w.requests if r.endswith("/v1/orders")]
        assert w.errors == []
        # at the minimum itself, the order goes
        await page.check('input[name="side"][value="sell"]')
        await page.fill("#price", "2010")
        await page.fill("#amount", "0.0001")
        assert await page.text_content("#err-amount") == ""
        await page.click("#submit")
        await page.wait_for_selector("#last-order[data-hash]", timeout=10_000)
        assert len(node.records) == 1
        await page.fill("#price", "")
        await page.fill("#amount", "")
        assert await page.text_content("#preview") == minimum
