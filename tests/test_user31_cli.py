"""user31, a new user's trial of the command line:

- ``sdex node --db`` or ``--node-key`` in a directory that does not exist silently made it,
  and a new, empty database (or a new gossip identity) there: a typo in the path started a
  node with none of the user's orders. Now a usage error naming the directory, unless
  ``--mkdir`` asks for it.
- ``sdex devnet``'s summary was wrapped by rich at 80 columns inside the token lines'
  brackets ("(18 decimals; minimum order\\n0.0001 WETH)").
- ``sdex simulate``'s (and the node's) numeric bounds were refused in click's words
  ("2.0 is not in the range 0.0<=x<=0.9", "'x' is not a valid float range").
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.devnet import free_port
from sdex.order import to_checksum
from tests.conftest import Chain
from tests.devnetproc import devnet_running
from tests.nodeutil import ROOT
from tests.portpick import PortTaken, on_picked_port_sync

KEY = "0x" + "11" * 32


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.output


# -- numeric bounds in our words --------------------------------------------------------------

SIM = ["simulate", "-n", "20", "--orders", "5"]


@pytest.mark.parametrize(
    ("argv", "option", "says"),
    [
        (["simulate", "-n", "0"], "'--nodes' / '-n'",
         "must be a whole number from 2 to 100000 (nodes), got '0'"),
        (["simulate", "-n", "5,x"], "'--nodes' / '-n'",
         "must be a whole number from 2 to 100000 (nodes), got '5,x'"),
        ([*SIM, "--hostile", "2"], "'--hostile'",
         "must be a number from 0 to 0.9 (a share of the nodes), got '2'"),
        ([*SIM, "--churn", "-1"], "'--churn'",
         "must be a number from 0 to 0.9 (a share of the nodes), got '-1'"),
        ([*SIM, "--bandwidth-mbit", "x"], "'--bandwidth-mbit'",
         "must be a number from 0.01 to 1000000 (Mbit/s), got 'x'"),
        ([*SIM, "--check-ms", "nan"], "'--check-ms'",
         "must be a number from 0 to 1000 (ms), got 'nan'"),
        ([*SIM, "--fanout", "1.5"], "'--fanout'",
         "must be a whole number from 1 to 64 (peers), got '1.5'"),
        ([*SIM, "--latency-ms", "inf"], "'--latency-ms'",
         "must be a number from 0 to 10000 (ms), got 'inf'"),
        (["node", "--port", "0"], "'--port'",
         "must be a whole number from 1 to 65535 (a TCP port), got '0'"),
        (["devnet", "--port", "70000"], "'--port'",
         "must be a whole number from 1 to 65535 (a TCP port), got '70000'"),
        (["node", "--port", "8001", "--fee-bps", "20000"], "'--fee-bps'",
         "must be a whole number from 0 to 10000 (basis points), got '20000'"),
        (["node", "--port", "8001", "--gossip-scale", "5"], "'--gossip-scale'",
         "must be a number from 0.01 to 1, got '5'"),
        (["node", "--port", "8001", "--max-http", "0"], "'--max-http'",
         "must be a whole number of at least 1, got '0'"),
        (["node", "--port", "8001", "--http-idle-timeout", "0"], "'--http-idle-timeout'",
         "must be a number above 0 and at most 86400 (seconds), got '0'"),
        (["audit", "--sync-timeout", "-1"], "'--sync-timeout'",
         "must be a number of at least 0 (seconds), got '-1'"),
        (["console", "--key", KEY, "--node", "http://127.0.0.1:1", "--slippage", "10000"],
         "'--slippage'", "must be a whole number from 0 to 9999 (basis points), got '10000'"),
    ],
)  # fmt: skip
def test_a_number_out_of_bounds_is_refused_in_our_words(
    argv: list[str], option: str, says: str
) -> None:
    code, output = run(*argv)
    assert code == 2, output
    assert f"Invalid value for {option}: {says}" in output, output
    assert "<=x" not in output and "x>=" not in output and "valid float" not in output
    assert "valid integer" not in output and "not in the range" not in output


def test_the_help_says_the_bounds_in_our_words() -> None:
    code, output = run("simulate", "--help")
    assert code == 0, output
    assert "0 to 0.9" in output and "<=x" not in output


# -- --db and --node-key in a directory that does not exist -----------------------------------


@pytest.mark.parametrize("option", ["--db", "--node-key"])
def test_a_missing_directory_is_refused_not_made(option: str, tmp_path: Path) -> None:
    typo = tmp_path / "sdx"
    code, output = run("node", "--port", "8001", "--key", KEY, option, str(typo / "n.db"))
    assert code == 2, output
    said = " ".join(output.split())
    assert f"Invalid value for '{option}'" in said, output
    assert f"the directory '{typo}' does not exist" in said, output
    assert "pass --mkdir" in said, output
    assert not typo.exists()


@pytest.mark.parametrize("option", ["--db", "--node-key"])
def test_a_file_where_the_directory_should_be_is_refused(option: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    code, output = run("node", "--port", "8001", "--key", KEY, "--mkdir",
                       option, str(tmp_path / "f" / "n.db"))  # fmt: skip
    assert code == 2, output
    assert f"'{tmp_path / 'f'}' is not a directory" in " ".join(output.split()), output


@pytest.mark.parametrize("option", ["--db", "--node-key"])
def test_a_directory_named_as_the_file_is_refused(option: str, tmp_path: Path) -> None:
    code, output = run("node", "--port", "8001", "--key", KEY, option, str(tmp_path))
    assert code == 2, output
    said = " ".join(output.split())
    assert f"'{tmp_path}' is a directory: name a file in it, e.g. '{tmp_path}/" in said, output


def test_mkdir_makes_the_directories(chain: Chain, tmp_path: Path) -> None:
    """With ``--mkdir`` the node starts as before, the directories made."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    db, node_key = tmp_path / "a" / "b" / "n.db", tmp_path / "k" / "node.key"
    clean = {k: v for k, v in os.environ.items() if k not in ("SDEX_NODE_KEY", "SDEX_KEY")}

    @contextlib.contextmanager
    def start(port: int) -> Iterator[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sdex.cli", "node", "--port", str(port), "--deployment",
             str(deployment), "--key", "0x" + chain.keys[17].hex(), "--db", str(db),
             "--node-key", str(node_key), "--mkdir", "--log-level", "warning"],
            cwd=ROOT, env=clean, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()  # (bounded by the node's start: it exits on failure)
            if not line.startswith("listening on "):
                said = proc.stderr.read()
                if f"port {port} on " in said and "is already in use" in said:
                    raise PortTaken(said)  # (another process took it first: a new pick)
                raise AssertionError((line, said))
            yield line
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    with on_picked_port_sync(start):
        assert db.exists() and node_key.exists()


# -- sdex devnet's summary at 80 columns ------------------------------------------------------


def test_devnet_summary_breaks_no_bracket_at_80_columns(tmp_path: Path) -> None:
    port = free_port()
    deployment = tmp_path / "a-rather-long-directory-name" / "devnet.json"
    args = ["--engine", "anvil", "--deployment", str(deployment)]
    with devnet_running(tmp_path, port, args, columns=80) as (proc, lines):
        text = "\n".join(lines)
        for line in lines:
            assert line.count("(") == line.count(")"), text  # no bracket broken
        tokens = json.loads(deployment.read_text())["tokens"]  # (checksummed: users89)
        weth, usdc = (to_checksum(tokens[s]["address"]) for s in ("WETH", "USDC"))
        assert f"\nWETH  {weth}\n      (18 decimals; minimum order 0.0001 WETH)\n" in text, text
        assert f"\nUSDC  {usdc}\n      (6 decimals; minimum order 0.1 USDC)\n" in text, text
        # (the deployment file's path whole on its line, to copy)
        assert f"deployment: {tmp_path}/a-rather-long-directory-name/devnet.json" in text, text
        # (user38: which accounts to give nodes as --key, as the README says)
        assert "node operator keys (--key; accounts[18] and [19], not traded with):" in text, text
        assert len(re.findall(r"^  --key 0x[0-9a-f]{64}$", text, re.M)) == 2, text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
