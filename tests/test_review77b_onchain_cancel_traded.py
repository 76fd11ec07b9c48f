"""review77b (a new user's trial of README's steps): ``sdex cancel --onchain`` of a partly
filled order said "cancelled on chain in tx ..." and "the node at URL has it cancelled too",
and not what had traded, which README says ``sdex cancel`` of a partly traded order says
(user50 added it to the soft cancel's line only). Against a real in-process node on the
test devnet."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.test_cli_node import node
from tests.test_user25_cli_errors import key, one_line


def test_an_onchain_cancel_of_a_partly_filled_order_says_what_had_traded(
    chain: Chain, tmp_path: Path
) -> None:
    with node(chain, tmp_path) as (url, deployment):
        run = CliRunner().invoke
        env = {"COLUMNS": "200"}
        maker = ["--node", url, "--key", key(chain, 1)]
        onchain = ["--onchain", "--deployment", str(deployment)]
        r = run(main, ["order", "buy", "2000.5", "1.5", *maker], env=env)
        assert r.exit_code == 0, r.output
        (order_hash,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        taker = ["--node", url, "--key", key(chain, 2)]
        r = run(main, ["order", "sell", "2000", "0.5", *taker], env=env)  # waits till mined
        assert r.exit_code == 0 and "settled on chain" in r.output, r.output
        r = run(main, ["cancel", order_hash, *maker, *onchain], env=env)
        assert r.exit_code == 0, r.output
        said = one_line(r.output)
        assert "cancelled on chain in tx 0x" in said, said
        assert f"the node at {url} has it cancelled too" in said, said
        assert "it had traded 1000.25 of the 3000.75 USDC it offers (settled on chain)" in said
        # an order that had not traded says nothing of the kind
        r = run(main, ["order", "buy", "1500", "0.5", *maker], env=env)
        (untouched,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        r = run(main, ["cancel", untouched, *maker, *onchain], env=env)
        assert r.exit_code == 0 and "cancelled on chain" in r.output, r.output
        assert "had traded" not in r.output, r.output
