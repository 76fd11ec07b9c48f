"""``sdex devnet`` says each token's minimum order size (user28): the deployment file now
gives one per token (0.0001 WETH, 0.1 USDC), the nodes' default, and a new user met it
only as a refusal. A real ``sdex devnet`` process (anvil: the fastest to start), stopped on
SIGINT as soon as it says it runs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.nodeutil import ROOT, free_port


def test_sdex_devnet_says_each_tokens_minimum_order(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdex.cli", "devnet", "--port", str(port), "--engine", "anvil"],
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
        assert re.search(r"^WETH  0x[0-9a-f]{40} \(18 decimals; minimum order 0\.0001 WETH\)$",
                         text, re.M), text  # fmt: skip
        assert re.search(r"^USDC  0x[0-9a-f]{40} \(6 decimals; minimum order 0\.1 USDC\)$",
                         text, re.M), text  # fmt: skip
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:  # (SIGINT first: a killed devnet leaves its anvil running)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
