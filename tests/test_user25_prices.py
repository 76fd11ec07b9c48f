"""Prices below 10^-8 are shown, not rounded to "~0" (user25's trial).

``fmt_price`` (the CLI) and ``fmtPrice`` (the page) kept 8 decimal places: an order whose
limit is 0.000000001 USDC per WETH (it pays one unit of USDC for 1,000 WETH: a valid order
the book offers) read "~0" in ``sdex book`` and on the page, a price it is not; so would
every price of a pair whose base is worth far less than its quote (a meme token against
WETH). Now the 8 places count from the first significant digit, so a price is never
misstated by more than half its eighth significant digit; prices of 0.1 and above read as before."""

from __future__ import annotations

from fractions import Fraction

from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from playwright.async_api import Browser

from sdex.wallet import fmt_price
from sdex.web import STATIC
from tests.nodeutil import serving
from tests.test_web import browser, chromium, in_module_loop

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)

CASES: list[tuple[Fraction, str]] = [
    (Fraction(1, 10**9), "0.000000001"),
    (Fraction(1, 3 * 10**9), "~0.00000000033333333"),
    (Fraction(2, 3 * 10**20), "~0.0000000000000000000066666667"),
    (Fraction(123456789, 10**17), "~0.0000000012345679"),
    (Fraction(1, 30), "~0.033333333"),
    (Fraction(1, 3), "~0.33333333"),
    (Fraction(2, 3), "~0.66666667"),
    (Fraction(1, 7), "~0.14285714"),
    (Fraction(4001, 2), "2000.5"),
    (Fraction(2000123456, 10**6), "2000.123456"),
    (Fraction(6001, 3), "~2000.33333333"),
    (Fraction(1, 10**8), "0.00000001"),
    (Fraction(10**30), "1000000000000000000000000000000"),
]


def _value(text: str) -> Fraction:
    return Fraction(text.removeprefix("~"))


def test_the_table() -> None:
    assert [fmt_price(p) for p, _ in CASES] == [want for _, want in CASES]


@given(
    st.integers(min_value=1, max_value=2**256 - 1), st.integers(min_value=1, max_value=2**256 - 1)
)
def test_a_shown_price_is_off_by_at_most_half_its_eighth_significant_digit(n: int, d: int) -> None:
    p = Fraction(n, d)
    text = fmt_price(p)
    shown = _value(text)
    assert abs(shown - p) * 10**8 <= 5 * p, (p, text)
    assert text.startswith("~") == (shown != p)


@in_module_loop
async def test_the_page_shows_the_same(chromium: Browser) -> None:
    app = web.Application()
    app.router.add_static("/static", STATIC)
    async with serving(app) as url, browser(chromium) as b:
        page = await b.new_page()
        await page.goto(f"{url}/static/style.css")
        got = await page.evaluate(
            """async (cases) => {
                const u = await import("/static/units.js");
                return cases.map(([n, d]) => u.fmtPrice(u.frac(BigInt(n), BigInt(d))));
            }""",
            [[str(p.numerator), str(p.denominator)] for p, _ in CASES],
        )
    assert got == [want for _, want in CASES]
