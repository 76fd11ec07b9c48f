"""A second ``sdex demo`` while one runs in the same log directory (ux70's trial: `make demo`
in a second terminal while `make demo KEEP=1` kept its network up) went ahead: it deleted the
running nodes' databases, wrote its own chain's deployment file over the kept one's (the
README's `--deployment .sdex/demo/devnet.json` then named a chain that had stopped: "cannot
reach the JSON-RPC endpoint"), and its node logs and demo.log over theirs. It now refuses in
one line, naming the running demo and `--log-dir`, and touches nothing there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sdex.demorun import hold_log_dir
from tests.nodeutil import ROOT


def test_a_second_demo_in_a_running_demos_directory_changes_nothing(tmp_path: Path) -> None:
    kept = {"devnet.json": b'{"the running demo": 1}', "node-1.db": b"its database"}
    for name, data in kept.items():
        (tmp_path / name).write_bytes(data)
    held = hold_log_dir(tmp_path)  # (the running demo's hold: this process's)
    assert held is not None
    with held:
        r = subprocess.run(
            [sys.executable, "-m", "sdex", "demo", "--log-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
        )
        out = " ".join((r.stdout + r.stderr).split())
        assert r.returncode == 1, out
        assert "Traceback" not in out, out
        assert f"another `sdex demo` (pid {os.getpid()}) runs in {tmp_path}" in out, out
        assert "--log-dir" in out, out
        for name, data in kept.items():
            assert (tmp_path / name).read_bytes() == data, name
        assert not (tmp_path / "demo.log").exists() and not (tmp_path / "hardhat.log").exists()
    again = hold_log_dir(tmp_path)  # (released with the demo that held it: the next may run)
    assert again is not None
    again.close()
