"""review26: ``sdex devnet`` whose chain dies in the middle of the deployment says so in one
``error:`` line and exits 1 (it printed a traceback of the connection error)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import sdex
from sdex.devnet import free_port

ROOT = Path(sdex.__file__).resolve().parents[1]  # (the tree under test)


def block_number(port: int) -> int | None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}", body.encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return int(json.loads(resp.read())["result"], 16)
    except OSError:
        return None


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def test_the_chain_dying_mid_deployment_is_one_error_line(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdex.cli", "devnet", "--port", str(port),
         "--deployment", str(tmp_path / "d.json")],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    chain = None
    try:
        end = time.monotonic() + 90
        while True:  # (the deployment under way: its first transaction mined)
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < end, "the deployment never started"
            kids = children(proc.pid)
            if kids and (block_number(port) or 0) >= 1:
                chain = kids[0]
                break
            time.sleep(0.005)
        os.kill(chain, signal.SIGKILL)  # (the chain dies mid-deployment)
        out, err = proc.communicate(timeout=60)
        assert "running until interrupted" not in out, "the deployment finished first"
        assert proc.returncode == 1, (out, err)
        assert "Traceback" not in err, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:"), err
        assert "deploy" in lines[0], err
        assert not (tmp_path / "d.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if chain is not None and Path(f"/proc/{chain}").exists():
            os.kill(chain, signal.SIGKILL)
