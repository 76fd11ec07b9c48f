"""wallet78: ``sdex balance`` and ``sdex book`` sign nothing, and so checked nothing of the
node's ``order_config`` (trust77 checked it before ``sdex order``, ``cancel`` and the console
signed): a node listing USDC with 18 decimals had ``sdex balance`` show a wallet's 1,000,000
USDC as 0.000001, and its book's amounts off by 10^12 too; a user then typed the amount an
order should have and signed for the wrong one. Now both check the listing as ``sdex order``
does, against the deployment file (``--deployment``, else ``.sdex/devnet.json`` when there)
and the chain (``--rpc``; ``sdex balance`` reads the chain anyway, and checks each token it
shows there): a difference is one ``error:`` line ("refusing to show amounts in the node's
units: ..."), nothing shown, exit 1.

A real in-process node on Hardhat behind trust77's real loopback proxy rewriting its
``GET /v1/order_config``. Before: each case showed its figures (exit 0), or ``sdex book``
had no ``--rpc`` (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.conftest import Chain
from tests.test_cli_node import ALICE, key, node, one_line
from tests.test_trust77_listing import _same, _swap, _token, rewriting_proxy

REFUSED = "error: refusing to show amounts in the node's units: the node's order_config differs"


def _run(*args: str) -> Result:
    from sdex.cli import main

    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def test_balance_and_book_refuse_a_listing_that_misstates_decimals(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    honest = tmp_path / "honest"  # (the wallet's directory: the network's file at the default)
    (honest / ".sdex").mkdir(parents=True)
    c.deployment.save(honest / ".sdex" / "devnet.json")
    bare = tmp_path / "bare"  # (no deployment file: --rpc names the chain)
    bare.mkdir()
    rpc = ("--rpc", c.deployment.rpc)
    file = "in the deployment file .sdex/devnet.json"
    on = f"on the chain at {c.deployment.rpc}"
    usdc = c.usdc.address
    with node(c, tmp_path) as (url, _), rewriting_proxy(url) as proxy:
        wallet = ("--node", proxy.url)
        cases = [
            (_token("USDC", decimals=18), honest, (),
             f"tokens.USDC.decimals is 18 at the node, 6 {file}"),
            (_token("USDC", decimals=18), bare, rpc, "decimals is 18 at the node, 6 (its "
             f"decimals()) {on}"),
            (_swap, honest, (), "the symbol of token"),
            (_swap, bare, rpc, "(its symbol())"),
        ]  # fmt: skip
        for rewrite, cwd, extra, said in cases:
            proxy.rewrite = rewrite
            monkeypatch.chdir(cwd)
            runs = {
                "balance": _run("balance", *wallet, "--key", key(c, ALICE), *extra),
                "balance --json": _run(
                    "balance", *wallet, "--key", key(c, ALICE), "--json", *extra
                ),
                "balance --pair": _run(
                    "balance", *wallet, "--key", key(c, ALICE), "--pair", "WETH/USDC", *extra
                ),
                "book": _run("book", *wallet, *extra),
            }
            for command, r in runs.items():
                where = (command, cwd.name, said)
                out = one_line(r.output)
                assert r.exit_code == 1, (where, r.output)
                assert REFUSED in out and said in out, (where, out)
                assert "nothing was shown" in out, (where, out)
                assert "funds of" not in out and "asks" not in out, (where, out)
                assert '"tokens"' not in out, (where, out)

        # the honest listing: shown as before; checked silently against the file or the chain
        proxy.rewrite = _same
        for cwd, extra in ((honest, ()), (bare, rpc)):
            monkeypatch.chdir(cwd)
            r = _run("balance", *wallet, "--key", key(c, ALICE), "--json", *extra)
            assert r.exit_code == 0, r.output
            got = json.loads(r.output)
            assert got["tokens"]["USDC"]["decimals"] == 6
            assert got["tokens"]["USDC"]["address"] == usdc.lower()
            r = _run("book", *wallet, *extra)
            assert r.exit_code == 0, r.output
            assert "asks" in r.output and "warning" not in r.output, r.output
        # no source: the book is shown, with a warning that its amounts are unchecked
        monkeypatch.chdir(bare)
        r = _run("book", *wallet)
        assert r.exit_code == 0, r.output
        assert "is used as the node says it to show amounts, unchecked" in one_line(r.output)
