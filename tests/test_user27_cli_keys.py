"""An address given where a private key goes (user27's trial: a new user copies the dev
account's address, the first thing Hardhat and the deployment file show): every command
said only "the key must be 32 bytes of hex"; it now says that is an address. Against a
real in-process node on the test devnet; nothing is signed or sent. And a node's URL
with a path (``http://127.0.0.1:8001/v1``) said only "Not Found (HTTP 404, code 100)"."""

from __future__ import annotations

import functools
from pathlib import Path

from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.test_cli_node import node
from tests.test_user25_cli_errors import key, one_line

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
SAID = "the key must be 32 bytes of hex (64 hex digits, 0x optional): that is an address"

# (command and arguments, with {node} and {deployment} filled in; exit code; words said)
CASES: list[tuple[list[str], int, str]] = [
    (["order", "buy", "2000", "1", "--node", "{node}", "--key", ADDRESS], 2, SAID),
    (["order", "sell", "2000", "1", "--node", "{node}", "--key", ADDRESS[2:]], 2, SAID),
    (["cancel", "0x" + "ab" * 32, "--node", "{node}", "--key", ADDRESS], 2, SAID),
    (["console", "--node", "{node}", "--key", ADDRESS], 2, SAID),
    (["node", "--port", "1", "--deployment", "{deployment}", "--key", ADDRESS], 2, SAID),
    # a node's URL with a path (a page's or an API's address pasted): it read "Not Found"
    (["order", "buy", "2000", "1", "--node", "{node}/v1", "--key", "{key}"], 1,
     "{node}/v1 has no /v1/order_config (HTTP 404): not an SDEX node's URL?"),
    (["book", "--node", "{node}/health"], 1,
     "{node}/health has no /v1/order_config (HTTP 404): not an SDEX node's URL?"),
    # not an address: as before
    (["order", "buy", "2000", "1", "--node", "{node}", "--key", "0x1234"], 2,
     "the key must be 32 bytes of hex (64 hex digits, 0x optional)"),
]  # fmt: skip


def test_an_address_for_a_key_is_named(chain: Chain, tmp_path: Path) -> None:
    with node(chain, tmp_path) as (url, deployment):
        failures = []
        for args, code, says in CASES:
            fill = {"{node}": url, "{deployment}": str(deployment), "{key}": key(chain, 1)}
            argv = [functools.reduce(lambda a, kv: a.replace(*kv), fill.items(), a) for a in args]
            says = says.replace("{node}", url)
            r = CliRunner().invoke(main, argv, env={"COLUMNS": "200"})
            out = one_line(r.output)
            if r.exit_code != code or says not in out or "Traceback" in out:
                failures.append(f"{argv[0]}: exit {r.exit_code}: {out}")
        assert "0x1234" not in SAID and "address" not in CASES[-1][2]
        assert failures == []
        # and a real key still works (the node was not disturbed)
        r = CliRunner().invoke(
            main, ["book", "--node", url], env={"COLUMNS": "200", "SDEX_KEY": key(chain, 1)}
        )
        assert r.exit_code == 0, r.output
