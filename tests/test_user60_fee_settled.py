"""user60: ``sdex order`` said "settled on chain: bought 0.5 WETH for 900 USDC" on a node that
charges a fee (``--fee-bps 30``), though the Exchange paid the buyer 0.4985 WETH: the fee,
0.0015 WETH, is taken from what the maker receives (its preview had said so, the settled line
did not). Now the settled line says the fee and what the wallet received. A real in-process
node on Hardhat (automine)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.test_cli_node import ALICE, BOB, cli, key, node, one_line


def test_the_settled_line_says_the_fee_and_what_was_received(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path, fee_bps=30) as (url, _):

        def trade(rest: tuple[str, str, str], take: tuple[str, str, str]) -> str:
            """ALICE's order ``rest`` rests; BOB's ``take`` crosses it: what BOB is told."""
            for (side, price, amount), who in ((rest, ALICE), (take, BOB)):
                r = cli("order", side, price, amount, "--node", url, "--key", key(c, who))
                assert r.exit_code == 0, r.output
            return one_line(r.output)

        weth_before = c.weth.balance_of(c.address(BOB))
        out = trade(("sell", "1800", "1"), ("buy", "1800", "0.5"))
        assert (
            "settled on chain: bought 0.5 WETH for 900 USDC, less the fee of 0.0015 "
            "WETH: 0.4985 WETH received (tx 0x"
        ) in out, out
        assert c.weth.balance_of(c.address(BOB)) - weth_before == 4985 * 10**14
        # a seller's fee is in what it receives, USDC (Alice's ask at 1800 rests above)
        out = trade(("buy", "1700", "0.5"), ("sell", "1700", "0.5"))
        assert (
            "settled on chain: sold 0.5 WETH for 850 USDC, less the fee of 2.55 USDC: "
            "847.45 USDC received (tx 0x"
        ) in out, out
