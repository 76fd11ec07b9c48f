"""The demo's book tables (user27's trial): their prices were ``str(float(...))``, "10.0"
where the CLI, the console and the page say "10", and a price that does not end within 8
decimals printed to a float's 16 digits. They are written by the prices' one rule now."""

from __future__ import annotations

import pytest

from sdex.demo import book_price
from sdex.deployment import TokenInfo
from sdex.order import Order
from sdex.wallet import Market

WETH = TokenInfo(address="0x" + "01" * 20, decimals=18)
USDC = TokenInfo(address="0x" + "02" * 20, decimals=6)
M = Market("WETH", "USDC", WETH, USDC)
E18, E6 = 10**18, 10**6


def _order(side: str, base: int, quote: int) -> Order:
    give, take = (WETH, USDC) if side == "ask" else (USDC, WETH)
    amounts = (base, quote) if side == "ask" else (quote, base)
    return Order(
        maker="0x" + "03" * 20, taker="0x" + "00" * 20, maker_token=give.address,
        taker_token=take.address, maker_amount=amounts[0], taker_amount=amounts[1],
        fee_recipient="0x" + "00" * 20, fee_amount=0, expiry=2**40, salt=1,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("side", "base", "quote", "said"),
    [
        ("bid", 10 * E18, 100 * E6, "10"),  # the seed's buy 10 @ 10 (was "10.0")
        ("ask", 5 * E18, 50 * E6, "10"),
        ("ask", 2 * E18, 22 * E6, "11"),
        ("bid", E18 // 2, 1000250000, "2000.5"),
        ("ask", 3 * E18, 1 * E6, "~0.33333333"),  # (was 0.3333333333333333)
    ],
)  # fmt: skip
def test_the_demo_book_says_prices_as_everywhere_else(
    side: str, base: int, quote: int, said: str
) -> None:
    assert book_price(M, side, _order(side, base, quote)) == said
