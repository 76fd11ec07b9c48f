"""The node's per-token minimum order size (``order_config.tokens.SYM.minAmount``, dust27) is
read by the wallet and an order below it is refused before it is signed, in the tokens'
own units: the node's 400 ``BELOW_MINIMUM`` named base units and a token address
("makerAmount 10000000000000 is below this node's minimum 100000000000000 for 0xe7f1...")."""

from __future__ import annotations

from fractions import Fraction

import pytest

from sdex.client import NodeProtocolError, OrderConfig
from sdex.wallet import Side, WalletInputError, limit_amounts, parse_pair
from tests.test_wallet import config_json

MINIMUMS = {
    "WETH": {"address": "0x" + "11" * 20, "decimals": 18, "minAmount": str(10**14)},
    "USDC": {"address": "0x" + "22" * 20, "decimals": 6, "minAmount": "100"},
}
CONFIG = OrderConfig.from_json(config_json(tokens=MINIMUMS))
MARKET = parse_pair("WETH/USDC", CONFIG)

# (side, price, amount, refused with, or None: taken)
CASES = [
    (Side.SELL, "2000", "0.0001", None),  # the base minimum exactly
    (Side.SELL, "2000", "0.00001", "0.00001 WETH is below this node's minimum order size, 0.0001 WETH: raise AMOUNT"),  # noqa: E501
    (Side.BUY, "1500", "0.00000001", "0.00000001 WETH is below this node's minimum"),
    (Side.BUY, "0.01", "0.001", "0.00001 USDC is below this node's minimum order size, 0.0001 USDC: raise AMOUNT or PRICE"),  # noqa: E501
    (Side.SELL, "0.1", "0.001", None),  # 0.0001 USDC asked: the quote minimum exactly
]  # fmt: skip


@pytest.mark.parametrize(("side", "price", "amount", "refused"), CASES)
def test_an_order_below_the_nodes_minimum_is_refused_before_signing(
    side: Side, price: str, amount: str, refused: str | None
) -> None:
    if refused is None:
        limit_amounts(side, Fraction(price), Fraction(amount), MARKET)
    else:
        with pytest.raises(WalletInputError, match=refused.replace("(", r"\(").replace(")", r"\)")):
            limit_amounts(side, Fraction(price), Fraction(amount), MARKET)


def test_min_amount_is_read_from_order_config_and_optional() -> None:
    assert MARKET.base_token.min_amount == 10**14 and MARKET.quote_token.min_amount == 100
    plain = parse_pair("WETH/USDC", OrderConfig.from_json(config_json()))  # an older node
    assert plain.base_token.min_amount == plain.quote_token.min_amount == 0
    limit_amounts(Side.SELL, Fraction(2000), Fraction(1, 10**18), plain)  # no minimum known


@pytest.mark.parametrize("bad", ["-1", "0x10", "1.5", True, None, [], "1e3"])
def test_a_min_amount_that_is_not_a_whole_number_is_refused(bad: object) -> None:
    tokens = {**MINIMUMS, "WETH": {**MINIMUMS["WETH"], "minAmount": bad}}
    with pytest.raises(NodeProtocolError, match="minAmount"):
        OrderConfig.from_json(config_json(tokens=tokens))
