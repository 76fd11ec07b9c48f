"""review77b: a wallet command signed whatever fee the node named. ``order_config.feeBps``
is the node's to say (0 to 10,000 basis points of what an order receives), and ``sdex order``
and the console's ``send_order`` signed it as said, asking nothing: a node asking 50% (or
100%) took that share of every order it was sent, the fee shown only in the line printed as
the order was signed and posted. Now a wallet pays at most ``--max-fee-bps`` (default 100,
1%): a node asking more is refused in one line, nothing signed or sent.

A real in-process node asking 50% on Hardhat (automine)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.client import OrderConfig
from sdex.wallet import MAX_FEE_BPS
from sdex.walletui import FeeRefused, check_fee
from tests.conftest import Chain
from tests.fakenode import DOMAIN, USDC, WETH, order_config
from tests.test_cli_node import ALICE, cli, key, node, one_line
from tests.test_trust77_listing import orders_of


def test_a_node_asking_more_than_the_wallet_pays_gets_nothing_signed(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with node(c, tmp_path, fee_bps=5000) as (url, _):
        alice = c.address(ALICE)
        wallet = ("--node", url, "--key", key(c, ALICE))
        refused = (
            f"refusing to sign: the node at {url} asks a fee of 5000 bps (50% of what an "
            "order receives), above the 100 bps this wallet pays (--max-fee-bps); nothing was "
            "signed or sent: give --max-fee-bps 5000 to pay it"
        )
        cases = [  # (the command, its exit code, what it says)
            (("order", "buy", "1800", "0.5", *wallet), 1, refused),
            (("order", "sell", "2500", "0.5", *wallet, "--max-fee-bps", "4999"), 1,
             refused.replace("the 100 bps", "the 4999 bps")),
        ]  # fmt: skip
        for args, code, said in cases:
            r = cli(*args)
            assert r.exit_code == code, (args, r.output)
            assert said in one_line(r.output), (args, r.output)
            assert "signed by" not in r.output, r.output  # (nothing signed: nothing shown)
        assert orders_of(url, alice) == []
        r = CliRunner().invoke(
            main, ["console", *wallet], input="send_order buy limit 1800 0.5\n",
            env={"COLUMNS": "200"},
        )  # fmt: skip
        assert r.exit_code == 1, r.output
        assert refused in one_line(r.output), r.output
        assert orders_of(url, alice) == []
        # told to pay it, the wallet signs it, and says the fee as it did
        r = cli("order", "buy", "1800", "0.5", *wallet, "--max-fee-bps", "5000")
        assert r.exit_code == 0, r.output
        assert "(5000 bps)" in one_line(r.output), r.output
        assert len(orders_of(url, alice)) == 1


@pytest.mark.parametrize(
    ("asked", "cap", "refused"),
    [
        (0, 0, False),
        (30, MAX_FEE_BPS, False),
        (MAX_FEE_BPS, MAX_FEE_BPS, False),
        (MAX_FEE_BPS + 1, MAX_FEE_BPS, True),
        (10_000, 9_999, True),
        (10_000, 10_000, False),
        (1, 0, True),
    ],
)
def test_the_fee_cap_is_inclusive(asked: int, cap: int, refused: bool) -> None:
    config = OrderConfig.from_json(order_config(DOMAIN, WETH, USDC, fee_bps=asked))
    if refused:
        with pytest.raises(FeeRefused, match=f"asks a fee of {asked} bps"):
            check_fee(config, cap, "http://127.0.0.1:1")
    else:
        check_fee(config, cap, "http://127.0.0.1:1")
