"""The order form's field errors as a user types (user29's trial): a field's error stayed
after the field was put right once the form was cleared ("Expires in" read "the expiry must
be a positive number of seconds" under 3600), and a field not yet typed was flagged in red
while the user typed the other ("PRICE must be a plain positive decimal like 2000.5, got
''", under an empty Price while typing the amount first). Now an empty field is flagged only
when the order is placed ("enter a price"), and every error goes as soon as its field is
right, cleared form or not. A real node serving dev wallets, its page in Chromium."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, Page

from tests.conftest import Chain
from tests.test_web import chromium, in_module_loop, node_and_page

__all__ = ["chromium"]  # (the module's Chromium fixture, shared with tests/test_web.py's)


async def _errors(page: Page) -> dict[str, str]:
    got: dict[str, str] = await page.evaluate(
        "() => Object.fromEntries(['price', 'amount', 'expiry', 'form', 'account']"
        ".map(f => [f, document.getElementById('err-' + f).textContent]))"
    )
    return {k: v for k, v in got.items() if v}


async def _type(page: Page, **fields: str) -> dict[str, str]:
    for name, value in fields.items():
        await page.fill(f"#{name}", value)  # (fires `input`, as typing does)
    return await _errors(page)


@in_module_loop
async def test_field_errors_follow_the_fields_as_typed(
    chain: Chain, tmp_path: Path, chromium: Browser
) -> None:
    async with node_and_page(chain, tmp_path, chromium, 3) as (_node, w):
        page = w.page
        # typing the amount first: the price not typed yet is no error (yet)
        assert await _type(page, amount="1") == {}
        # a bad expiry is said at once; put right, it goes
        assert await _type(page, expiry="1h") == {
            "expiry": "the expiry must be a positive number of seconds"
        }
        assert await _type(page, expiry="3600") == {}
        # more seconds than the field takes is said as such (ux70: 99999999999 read "must be
        # a positive number of seconds")
        assert await _type(page, expiry="99999999999") == {
            "expiry": "the expiry is at most 9999999999 seconds (over 300 years), got '99999999999'"
        }
        assert await _type(page, expiry="3600") == {}
        # a bad expiry, then the form cleared, then the expiry put right: nothing stays
        await _type(page, price="abc", expiry="0")
        assert set(await _errors(page)) == {"price", "expiry"}
        await _type(page, price="", amount="")
        assert await _type(page, expiry="3600") == {}
        # placing with an empty field says which, in words (nothing signed, nothing posted)
        await _type(page, price="", amount="0.5")
        await page.click("#submit")
        assert await _errors(page) == {"price": "enter a price"}
        assert await page.get_attribute("#last-order", "data-hash") is None
        await _type(page, price="2000", amount="")
        await page.click("#submit")
        assert await _errors(page) == {"amount": "enter an amount"}
        # a bad value is still said as `sdex order` says it, while typing
        assert await _type(page, amount="1,5") == {
            "amount": "AMOUNT must be a plain positive decimal like 2000.5, got '1,5'"
        }
        assert w.errors == []
