"""``sdex node`` started before its chain (user29's trial: the README's terminal 1 not yet
running, or a devnet stopped): it said "error: cannot reach the JSON-RPC endpoint
http://127.0.0.1:8545: [Errno 111] Connection refused", what is wrong but not what to do.
Now the line also says it, as ``sdex cancel --onchain`` and ``sdex audit`` do."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import free_port
from tests.test_cli_node import OPERATOR, key, run_node


def test_a_node_started_before_its_chain_says_what_to_do(chain: Chain, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    deployment = tmp_path / "devnet.json"
    replace(chain.deployment, rpc=dead).save(deployment)
    done = run_node("--deployment", str(deployment), "--key", key(chain, OPERATOR),
                    "--db", str(tmp_path / "n.db"))  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line == (
        f"error: cannot reach the JSON-RPC endpoint {dead}: [Errno 111] Connection refused "
        "(is that chain running? `sdex devnet` starts one; --rpc URL names another endpoint)"
    ), line
