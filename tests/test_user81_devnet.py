"""user81: ``sdex devnet``'s terminal shows its summary only, and names where the chain's own
output goes. Hardhat prints a banner of every dev account's private key and, unless told
not to, a line per JSON-RPC call: those go to the log beside the deployment file, never to
the user's terminal (it was so already; the summary did not say where to look). A real
``sdex devnet`` process on Hardhat, on a free port, in a fresh directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sdex.devnet import free_port
from tests.nodeutil import ROOT


def test_sdex_devnet_keeps_hardhats_output_in_its_log(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdex.cli", "devnet", "--port", str(port)],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # (ends when the process does: bounded by its start timeout)
            lines.append(line.rstrip())
            if "running until interrupted" in line:
                break
        text = "\n".join(lines)
        assert "running until interrupted" in text, text
        for said in ("Private Key", "Account #", "eth_", "WARNING", "JSON-RPC server"):
            assert said not in text, text  # (Hardhat's own words: in its log)
        assert "hardhat's own output: .sdex/devnet.log" in text, text
        log = (tmp_path / ".sdex" / "devnet.log").read_text()
        assert "Private Key" in log and f"127.0.0.1:{port}" in log
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()  # (to its exit)
        assert proc.wait(timeout=30) == 0
        assert "Private Key" not in rest and rest.startswith("stopped in "), rest
    finally:
        proc.stdout.close()
        if proc.poll() is None:  # (SIGINT first: a killed devnet leaves its chain running)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
