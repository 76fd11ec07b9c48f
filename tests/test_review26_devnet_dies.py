"""review26: ``sdex devnet`` whose chain dies in the middle of the deployment says so in one
``error:`` line and exits 1 (it printed a traceback of the connection error)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sdex
from sdex import devnet
from sdex.chain import Rpc
from sdex.chainnode import Engine
from sdex.devnet import free_port
from sdex.errors import DevnetError
from tests.rpcfault import faulty_proxy

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


def test_the_chain_dying_mid_deployment_is_one_error_line(tmp_path: Path, engine: Engine) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdex.cli", "devnet", "--port", str(port),
         "--deployment", str(tmp_path / "d.json"), "--engine", engine],
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


def test_a_chain_error_mid_deployment_stops_the_live_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    """The chain alive but the deployment failing (here a proxy in front of it refuses
    ``eth_estimateGas``): a ``DevnetError`` naming the deployment, the chain stopped."""
    real = devnet.deploy_devnet

    def through_proxy(rpc: Rpc, url: str, accounts: int = 20) -> object:
        with contextlib.ExitStack() as stack:
            proxied = stack.enter_context(faulty_proxy(url, "eth_estimateGas", "-32000"))
            bad = stack.enter_context(contextlib.closing(Rpc(proxied, timeout=10)))
            return real(bad, url, accounts)

    monkeypatch.setattr(devnet, "deploy_devnet", through_proxy)
    net = devnet.Devnet(deployment_path=tmp_path / "d.json", accounts=2, engine=engine)
    try:
        with pytest.raises(DevnetError, match="the deployment failed"):
            net.start()
        assert net.node.proc is not None and net.node.proc.poll() is not None
        assert not (tmp_path / "d.json").exists()
    finally:
        net.stop()
