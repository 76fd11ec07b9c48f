"""user44, a new user's trial: the wallet commands' output piped (``sdex order ... | tee``,
``> log``) kept every line whole however long: ``signed by 0x…; expires … (unix …)`` was 103
columns, "matched in full, settlement pending on chain (status partially_filled until the
settlement is mined, outcome filled)" 116, "settled on chain: sold … (tx 0x…; status
filled)" 150. Piped, they now break between words at 80 columns (a hash is one word: it
stays whole on its line, to copy); at a terminal the terminal still wraps them. An error
stays one line on stderr, as the README says. Real ``sdex`` processes with a real pipe,
against an in-process node on Hardhat."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sdex.order import address_of, to_checksum
from tests.conftest import Chain
from tests.fakenode import closed_port
from tests.nodeutil import ROOT
from tests.test_cli_node import ALICE, BOB, key, node, one_line

HASH = re.compile(r"0x[0-9a-fA-F]{64}")


def piped(*args: str) -> subprocess.CompletedProcess[str]:
    """``sdex ARGS`` with stdout and stderr into pipes, no COLUMNS: as ``| tee`` runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run(
        [sys.executable, "-m", "sdex", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "PYTHONPATH": str(ROOT)},
    )


STATUS_URL = re.compile(r"https?://[^\s/]+/v1/orders/0x[0-9a-f]{64}")
"""An order's record's whole URL (~100 columns), one word on a line of its own (users89:
split after the node's address, it could not be copied)."""


def lines_fit(text: str) -> None:
    wide = [line for line in text.splitlines() if len(line) > 80 and not STATUS_URL.fullmatch(line)]
    assert wide == [], "\n".join(wide)
    trailing = [line for line in text.splitlines() if line.endswith(" ")]
    assert trailing == [], trailing  # (a line wrapped between words kept the space)


def test_piped_wallet_output_fits_80_columns_with_hashes_whole(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with node(c, tmp_path) as (url, deployment):
        network = ("--deployment", str(deployment))  # (the listing checked: nothing said)
        sell = piped("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE), *network)
        assert sell.returncode == 0, sell.stdout + sell.stderr
        lines_fit(sell.stdout)
        lines = sell.stdout.splitlines()
        alice = to_checksum(address_of(c.keys[ALICE]))  # (checksummed, as balance says it: users89)
        assert lines[1] == f"signed by {alice}", sell.stdout
        assert re.fullmatch(r"expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(unix \d+\)", lines[2])
        maker_order = HASH.findall(sell.stdout)[0]
        buy = piped("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB), *network)
        assert buy.returncode == 0, buy.stdout + buy.stderr
        lines_fit(buy.stdout)
        out = one_line(buy.stdout)
        assert "\nmatches (1), settling on chain\n" in buy.stdout, buy.stdout  # (left, as book's)
        assert f"\n{url}/v1/orders/{HASH.findall(buy.stdout)[0]}\n" in buy.stdout, buy.stdout
        assert "matched in full, settlement pending on chain (status partially_filled" in out
        settled = re.search(r"settled on chain: bought 1 WETH for 2000 USDC \(tx (0x[0-9a-f]{64})"
                            r"; status filled\)", out)  # fmt: skip
        assert settled is not None, buy.stdout
        assert settled.group(1) in buy.stdout, buy.stdout  # (the tx hash whole on a line)
        # an error stays one line on stderr (a log's reader greps it), the maker's and the
        # key's addresses in it
        other = piped("cancel", maker_order, "--node", url, "--key", key(c, BOB), *network)
        assert other.returncode == 1, other.stdout + other.stderr
        assert len(other.stderr.splitlines()) == 1, other.stderr
        assert "only the order's maker" in other.stderr, other.stderr
        book = piped("book", "--node", url)
        assert book.returncode == 0, book.stdout + book.stderr
        lines_fit(book.stdout)
        # the audit's line for a node it cannot reach (~140 columns)
        down = f"http://127.0.0.1:{closed_port()}"
        audit = piped("audit", "--deployment", str(deployment), "--node", url, "--node", down)
        assert audit.returncode == 1, audit.stdout + audit.stderr
        lines_fit(audit.stdout)
        assert f"node {down}: cannot reach the node" in one_line(audit.stdout), audit.stdout
