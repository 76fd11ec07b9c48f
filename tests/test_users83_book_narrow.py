"""users83: ``sdex book`` in a terminal (or a pipe) narrower than its table keeps each order's
hash whole, to copy into ``sdex cancel``.

The book's table, its hashes whole, is ~120 columns wide; in 80 (a terminal's usual width,
and a pipe's) each hash was folded over three lines of the table, between its borders: none
could be copied whole. Now a side too wide for the width numbers its rows and lists their
hashes after the table, one a line. A real ``sdex node`` on the suite's Hardhat, the CLI in
this process."""

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
def test_the_books_hashes_are_whole_at_any_width(chain: Chain, tmp_path: Path, width: int) -> None:
    c = chain
    with node(c, tmp_path) as (url, deployment):
        hashes = []
        for side, price, who in (("sell", "2500", ALICE), ("buy", "1500", BOB)):
            r = CliRunner().invoke(main, [
                "order", side, price, "0.5", "--node", url, "--key", key(c, who),
                "--deployment", str(deployment), "--expiry", _salted(c),
            ], env={"COLUMNS": "200"})  # fmt: skip
            assert r.exit_code == 0, r.output
            hashes += [w for w in r.output.split() if w.startswith("0x") and len(w) == 66][:1]
        assert len(hashes) == 2
        r = CliRunner().invoke(
            main, ["book", "--node", url, "--deployment", str(deployment)],
            env={"COLUMNS": str(width)},
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        lines = r.output.splitlines()
        assert all(len(line) <= width for line in lines), r.output
        for h in hashes:  # (each on one line, whole: copied as one)
            assert any(h in line for line in lines), (h, r.output)
        assert "2500" in r.output and "1500" in r.output
