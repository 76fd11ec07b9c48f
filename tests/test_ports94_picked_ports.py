"""Node starts of tests without an event loop, and node runs to their exit, on a port picked
a moment before (``free_port``) that another process binds first: started again on another
pick (``nodeutil.node_process_started``, ``nodeutil.node_run``).

ports94: ``run_node`` (tests/test_cli_node.py: a node's refusal, as a user sees it) ran
``sdex node --port <pick>`` once: a pick taken first made the node refuse the port (its first
check) instead of what the test was about; test_audit's node processes had no retry either.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.portpick
import tests.test_cli_node
from sdex import chainnode
from tests.conftest import Chain
from tests.nodeutil import node_process_started
from tests.test_cli_node import key, run_node
from tests.test_harden93_port_retry import first_pick_taken


def test_a_refusing_node_whose_port_was_taken_is_run_again_on_another(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    dead = f"http://127.0.0.1:{chainnode.free_port()}"
    with first_pick_taken(monkeypatch) as thieves:
        monkeypatch.setattr(tests.test_cli_node, "free_port", tests.portpick.free_port)
        done = run_node("--deployment", str(deployment), "--rpc", dead,
                        env={"SDEX_NODE_KEY": key(chain, 17)})  # fmt: skip
        assert len(thieves) == 1  # (its first pick was taken)
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()  # before: "error: port N on 127.0.0.1 is already in use"
    assert line.startswith(f"error: cannot reach the JSON-RPC endpoint {dead}: "), line


def test_a_node_process_without_a_loop_whose_port_was_taken_is_started_on_another(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment, log = tmp_path / "devnet.json", tmp_path / "n.log"
    chain.deployment.save(deployment)
    with (
        first_pick_taken(monkeypatch) as thieves,
        node_process_started(chain, deployment, tmp_path / "n.db", 17, log) as (proc, base),
    ):
        (thief,) = thieves
        taken = thief.getsockname()[1]
        assert base != f"http://127.0.0.1:{taken}" and proc.poll() is None
    assert proc.poll() is not None  # (killed by its PID at the block's end)
    assert f"port {taken} on 127.0.0.1 is already in use" in log.read_text()
