"""``sdex cancel`` of a partly filled order (user50's trial, README's steps): a buy of 1.5
WETH at 2000.5, half filled on chain by another wallet's sell, then cancelled, said only
"soft-cancelled at the node: status cancelled", as if nothing had traded. It now also says
what had (the maker token's amount, of the order's whole). Against a real in-process
node on the test devnet."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.test_cli_node import node
from tests.test_user25_cli_errors import key, one_line


def test_a_cancel_of_a_partly_filled_order_says_what_had_traded(
    chain: Chain, tmp_path: Path
) -> None:
    with node(chain, tmp_path) as (url, _):
        run = CliRunner().invoke
        env = {"COLUMNS": "200"}
        maker = ["--node", url, "--key", key(chain, 1)]
        r = run(main, ["order", "buy", "2000.5", "1.5", *maker], env=env)
        assert r.exit_code == 0, r.output
        (order_hash,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        taker = ["--node", url, "--key", key(chain, 2)]
        r = run(main, ["order", "sell", "2000", "0.5", *taker], env=env)  # waits till mined
        assert r.exit_code == 0 and "settled on chain" in r.output, r.output
        r = run(main, ["cancel", order_hash, *maker], env=env)
        assert r.exit_code == 0, r.output
        said = one_line(r.output)
        assert "soft-cancelled at the node: status cancelled" in said, said
        assert "it had traded 1000.25 of the 3000.75 USDC it offers (settled on chain)" in said
        # an order that had not traded says nothing of the kind
        r = run(main, ["order", "buy", "1500", "0.5", *maker], env=env)
        (untouched,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        r = run(main, ["cancel", untouched, *maker], env=env)
        assert r.exit_code == 0 and "had traded" not in r.output, r.output
