"""wallet74: a pair is shown with its symbols as the node lists them (``USDC.e``), whatever
case the user typed: ``parse_pair`` matches symbols without case (they are distinct so:
``symbols_fault``) and names them as listed.

Before: every message and table showed the typed symbol upper-cased (``USDC.E``), a name the
node does not list, and a market of ``USDC.e``/``WETH`` was named ``WETH/USDC.E``."""

from __future__ import annotations

import re

import pytest

from sdex.answers import OrderConfig
from sdex.wallet import WalletInputError, parse_pair
from tests.fakenode import DOMAIN, USDC, WETH, fake_node, order_config, run_cli

BRIDGED = "0x" + "55" * 20


def _config() -> dict[str, object]:
    obj = order_config(DOMAIN, WETH, USDC)
    obj["tokens"] = {
        "WETH": {"address": WETH, "decimals": 18},
        "USDC.e": {"address": BRIDGED, "decimals": 6},
        "cbETH": {"address": USDC, "decimals": 18},
    }
    obj["pairs"] = ["WETH/USDC.e", "cbETH/WETH"]
    return obj


CONFIG = OrderConfig.from_json(_config())


@pytest.mark.parametrize(
    ("typed", "base", "quote"),
    [("WETH/USDC.e", "WETH", "USDC.e"), ("weth/usdc.E", "WETH", "USDC.e"),
     (" WETH / USDC.E ", "WETH", "USDC.e"), ("CBETH/weth", "cbETH", "WETH")],
)  # fmt: skip
def test_a_pair_is_named_as_the_node_lists_it(typed: str, base: str, quote: str) -> None:
    m = parse_pair(typed, CONFIG)
    assert (m.base, m.quote, m.name) == (base, quote, f"{base}/{quote}")
    assert m.quote_token == CONFIG.tokens[quote] and m.base_token == CONFIG.tokens[base]


@pytest.mark.parametrize(
    ("typed", "message"),
    [("usdc.e/weth", "USDC.e/WETH is not a listed market; the node lists WETH/USDC.e: use "
                     "--pair WETH/USDC.e (prices in USDC.e per WETH"),
     ("WETH/CBETH", "WETH/cbETH is not a listed market; the node lists cbETH/WETH"),
     ("usdc.e/cbeth", "the node does not list USDC.e/cbETH (it lists: WETH/USDC.e, cbETH/WETH)"),
     ("weth/dai.e", "the node does not list token dai.e (it lists: USDC.e, WETH, cbETH)")],
)  # fmt: skip
def test_refusals_name_symbols_as_listed(typed: str, message: str) -> None:
    with pytest.raises(WalletInputError) as caught:
        parse_pair(typed, CONFIG)
    said = str(caught.value)
    assert message in said, said
    assert not re.search(r"USDC\.E|CBETH", said), said  # before: the typed symbol, upper-cased


def test_the_book_command_shows_the_listed_spelling() -> None:
    with fake_node() as fake:
        fake.config = _config()
        r = run_cli("book", "--node", fake.url, "--pair", "weth/usdc.E")
    assert r.exit_code == 0, r.output
    assert "USDC.e" in r.output and "USDC.E" not in r.output, r.output
