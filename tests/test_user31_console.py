"""user31: the console's ``get_dump`` and ``fills`` in an 80-column terminal (the default
one) folded numbers mid-digits ("4998.499" over "625", read as two numbers), the pair
("WETH/USD" over "C"), the status ("partial" / "ly_fill" / "ed") and the maker. Now a number,
the pair, the side and the status stay whole on their line; with one pair in the table it is
said in the title instead of a column, and the order hash folds (as ``sdex book``'s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sdex.order import ZERO_ADDRESS
from tests.fakenode import E6, E18, MAKER, USDC, WETH, FakeNode, fake_node, run_cli, wallet_args
from tests.test_console import OTHER, other, record


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    with fake_node() as node:
        yield node


def cells(output: str) -> set[str]:
    """Every word on every line (a cell folded is two words: "4998.499", "625")."""
    return set(output.replace("│", " ").replace("┃", " ").split())


def test_80_columns_keep_numbers_pairs_and_statuses_whole(fake: FakeNode) -> None:
    # a bid of 100000 WETH @ 2000 partly filled: 4998.499625 WETH left (the trial's dump)
    bid = other(USDC, WETH, 200_000_000 * E6, 100_000 * E18)
    fake.order_list = [record(bid, 9_996_999_250_000, "partially_filled")]
    fake.fill_list = [
        {
            "transactionHash": "0x" + "ee" * 32, "logIndex": 0, "blockNumber": 123456,
            "orderHash": bid.hash_hex, "maker": OTHER, "taker": MAKER,
            "makerAmountFilled": str(1_000_250_000), "takerAmountFilled": str(500_000 * 10**12),
            "feeRecipient": ZERO_ADDRESS, "feePaid": "0", "settledByThisNode": True,
        }
    ]  # fmt: skip
    r = run_cli("console", *wallet_args(fake), input="get_dump\nfills\n", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    assert max(len(line) for line in r.output.splitlines()[2:]) <= 80, r.output
    got = cells(r.output)
    for whole in ("4998.499625", "100000", "2000", "partially_filled", "buy", "123456", "0.5"):
        assert whole in got, (whole, r.output)
    assert "the node's open orders (1), WETH/USDC" in r.output, r.output
    assert "fills (1), WETH/USDC" in r.output, r.output
    assert bid.hash_hex[:10] in r.output  # the hash's head, in its folded cell


def test_help_keeps_each_usage_on_its_line_at_80_columns(fake: FakeNode) -> None:
    """``help`` in 80 columns broke ``send_order buy|sell limit PRICE AMOUNT [gtc|ioc|fok]``
    after AMOUNT, "[gtc|ioc|fok]" alone on the next line, in the usage column, read as a
    command of its own; the summaries wrap instead."""
    r = run_cli("console", *wallet_args(fake), input="help\n", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert any(line.startswith("send_order buy|sell limit PRICE AMOUNT [gtc|ioc|fok]")
               for line in lines), r.output  # fmt: skip
    assert any(line.startswith("send_order buy|sell market AMOUNT [SLIPPAGE_BPS]")
               for line in lines), r.output  # fmt: skip
    assert not any(line.startswith(("[gtc", "[SLIP")) for line in lines), r.output
    assert max(len(line) for line in lines[2:]) <= 80, r.output
