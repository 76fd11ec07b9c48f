"""``sdex audit`` of a chain that is no longer running (user29's trial: a devnet stopped, its
deployment file left): it said "cannot reach the JSON-RPC endpoint http://127.0.0.1:28545:
http://127.0.0.1:28545: [Errno 111] Connection refused", the URL twice and no next step.
Now the URL once, the transport's words, and what to do (as ``sdex cancel --onchain`` says)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.nodeutil import free_port


def test_an_audit_of_a_stopped_chain_names_it_once_and_says_what_to_do(
    chain: Chain, tmp_path: Path
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    deployment = tmp_path / "devnet.json"
    replace(chain.deployment, rpc=dead).save(deployment)
    for extra in ([], ["--rpc", dead]):
        r = CliRunner().invoke(main, ["audit", "--deployment", str(deployment), *extra])
        assert r.exit_code == 2, r.output
        line = " ".join(r.stderr.split())
        assert line.startswith(
            f"cannot audit: cannot reach the JSON-RPC endpoint {dead}: [Errno 111] Connection "
            "refused (is that chain still running? --rpc URL names another endpoint)"
        ), line
        assert line.count(dead) == 1, line


def test_an_audit_given_the_chain_for_a_node_says_which_url_it_needs(
    chain: Chain, tmp_path: Path
) -> None:
    """``--node`` given the chain's URL (user29: ``--rpc`` and ``--node`` mixed up): the audit
    said "orders page lacks 'records'"; ``sdex book`` already said what the URL is. Now every
    node read says so, the audit's too."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    rpc = chain.deployment.rpc
    r = CliRunner().invoke(main, ["audit", "--deployment", str(deployment), "--node", rpc])
    assert r.exit_code == 1, r.output
    out = " ".join(r.output.split())
    assert (
        f"{rpc} is a chain's JSON-RPC endpoint, not an SDEX node: --node takes a node's URL, "
        "the one `sdex node` prints (listening on ...)"
    ) in out, out
    assert "lacks 'records'" not in out, out
