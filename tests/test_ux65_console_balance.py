"""The console's ``balance`` (ux65: ``sdex balance`` said a wallet's funds since user63, the
console, the seed's prompt, had no way to see them). It says what ``sdex balance`` says, in
the same table and notes, and a figure it could not read fails the command (a script exits
1), as ``sdex balance`` exits 1. A real in-process node on the session's Hardhat devnet,
its deployment listing one token with no contract."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import Result

from sdex.deployment import TokenInfo
from sdex.order import to_checksum
from tests.conftest import Chain
from tests.fakenode import run_cli
from tests.test_cli_node import cli, key, node, one_line
from tests.test_left65_balance_unreadable import NOWHERE

ME = 5


def console(url: str, deployment: Path, k: str, *lines: str, rpc: str = "") -> Result:
    more = ["--rpc", rpc] if rpc else ["--deployment", str(deployment)]
    stdin = "".join(x + "\n" for x in lines)
    return run_cli("console", "--node", url, "--key", k, *more, input=stdin)


def test_console_balance_says_what_sdex_balance_says(chain: Chain, tmp_path: Path) -> None:
    c = chain
    tokens = {**c.deployment.tokens, "NOPE": TokenInfo(NOWHERE, 18)}
    with node(c, tmp_path, tokens) as (url, deployment):
        k = key(c, ME)
        r = cli("order", "sell", "99999", "2", "--node", url, "--key", k)
        assert r.exit_code == 0 and "rests in the book" in r.output, r.output

        # one market: the same table and notes as `sdex balance --pair`, and exit 0
        r = cli("balance", "--node", url, "--deployment", str(deployment), "--key", k,
                "--pair", "WETH/USDC")  # fmt: skip
        assert r.exit_code == 0, r.output
        assert re.search(r"│ WETH │ [0-9.]+ │ unlimited │ 2 │ [0-9.]+ │", one_line(r.output)), (
            r.output
        )
        said = console(url, deployment, k, "help", "balance WETH/USDC")
        assert said.exit_code == 0 and said.stderr == "", said.output
        assert "balance [BASE/QUOTE]" in said.stdout, said.stdout  # (help lists it)
        assert r.output.strip() in said.stdout, said.stdout

        # every listed token: one it cannot read is said as `sdex balance` says it, and the
        # command fails (a script exits 1, naming its line)
        r = cli("balance", "--node", url, "--deployment", str(deployment), "--key", k)
        assert r.exit_code == 1 and "│ NOPE │ unreadable │" in one_line(r.output), r.output
        said = console(url, deployment, k, "balance")
        assert said.exit_code == 1, said.output
        assert r.output.strip() in said.stdout, said.stdout
        assert f"NOPE: not read: no contract at {to_checksum(NOWHERE)}" in one_line(said.stdout)
        assert one_line(said.stderr) == (
            "line 1: balance: error: not every figure above was read (said under the table)"
        ), said.stderr

        # bad input: said with the usage, nothing read; the wrong chain: one red line
        said = console(url, deployment, k, "balance USDC/WETH", "balance a b")
        assert said.exit_code == 1, said.output
        err = one_line(said.stderr)
        assert "line 1: balance USDC/WETH: error:" in err and "WETH/USDC" in err, err
        assert "line 2: balance a b: error: balance takes nothing or one market" in err, err
        assert err.count("usage: balance [BASE/QUOTE]") == 2, err
        assert "funds of" not in said.stdout, said.stdout
        # no deployment file: said where the console takes one
        said = console(url, tmp_path / "none.json", k, "balance")
        assert said.exit_code == 1 and "funds of" not in said.stdout, said.output
        assert f"no deployment file at {tmp_path / 'none.json'}: " in one_line(said.stderr)
        assert "; the console takes --deployment or --rpc as it starts" in one_line(said.stderr)
        said = console(url, deployment, k, "balance WETH/USDC", rpc=url)
        assert said.exit_code == 1 and "funds of" not in said.stdout, said.output
        assert f"{url} is not a chain's JSON-RPC endpoint: it answered HTTP 405" in one_line(
            said.stderr
        ), said.stderr
