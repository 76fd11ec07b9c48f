"""users86: ``sdex order``'s table of the matches its order made keeps each resting order's
hash whole in a terminal (or a pipe) narrower than the table.

Found trying README as a new user (its step 2, piped, 80 columns): the matches table's
"resting order" column folded each hash over two lines of the table, between its borders,
as ``sdex book``'s did before users83: none could be copied. Now a table too wide for the
width numbers its rows and lists their hashes after it, one a line. A real ``sdex node`` on
the suite's Hardhat, the CLI in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.test_cli_node import key, node
from tests.test_node import ALICE, BOB


def _salted(c: Chain) -> str:
    """An expiry no earlier run's order has (the chain is shared): its hash is new."""
    return str(3600 + int(c.rpc.call("eth_blockNumber"), 16) % 1000)


@pytest.mark.parametrize("width", [80, 100, 200])
def test_the_matched_orders_hashes_are_whole_at_any_width(
    chain: Chain, tmp_path: Path, width: int
) -> None:
    c = chain
    with node(c, tmp_path) as (url, deployment):
        place = ["--node", url, "--deployment", str(deployment), "--expiry", _salted(c)]
        r = CliRunner().invoke(
            main, ["order", "buy", "2000.5", "0.3", "--key", key(c, ALICE), *place],
            env={"COLUMNS": "200"},
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        (resting,) = [w for w in r.output.split() if w.startswith("0x") and len(w) == 66][:1]
        r = CliRunner().invoke(
            main, ["order", "sell", "2000", "0.1", "--key", key(c, BOB), "--wait", "0", *place],
            env={"COLUMNS": str(width)},
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert "matches (1)" in r.output, r.output
        lines = r.output.splitlines()
        status = f"{url}/v1/orders/"  # (users89: the status URL whole, its own line)
        assert all(len(line) <= width or line.startswith(status) for line in lines), r.output
        assert any(resting in line for line in lines), (resting, r.output)  # (whole: copied)
