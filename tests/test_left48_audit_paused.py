"""left48: ``sdex audit`` says within a few seconds that the chain is not answering.

Before, an audit of a paused chain (a devnet stopped with SIGSTOP, an endpoint that hangs)
printed nothing until its first JSON-RPC call timed out, 30 s later: a user took it for a
hung command. The chain here is a real loopback socket that takes connections and never
answers (what a stopped process's listening socket does); the audit is a real process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import Chain

ROOT = Path(__file__).resolve().parents[1]
SAID_WITHIN = 15.0
"""Seconds the notice must come in (the RPC's own timeout, when it would fail, is 30)."""


def test_an_audit_of_a_silent_chain_says_so_soon(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the backlog; no request is ever read
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "sdex", "audit", "--deployment", str(deployment), "--rpc", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
        )
        said: list[str] = []
        reader = threading.Thread(
            target=lambda: said.extend(iter(proc.stderr.readline, b"")),  # type: ignore[union-attr]
            daemon=True,
        )
        try:
            started = time.monotonic()
            reader.start()
            while not said and time.monotonic() - started < SAID_WITHIN:
                reader.join(0.1)
            assert said, f"nothing said within {SAID_WITHIN} s"
            line = said[0].decode()
            assert f"the chain at {url} has not answered" in line, line
            assert proc.poll() is None  # (still waiting for it, as it says)
        finally:
            proc.kill()
            proc.wait()
