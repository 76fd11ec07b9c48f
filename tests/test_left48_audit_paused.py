"""left48: ``sdex audit`` says within a few seconds that the chain is not answering.

Before, an audit of a paused chain (a devnet stopped with SIGSTOP, an endpoint that hangs)
printed nothing until its first JSON-RPC call timed out, 30 s later: a user took it for a
hung command. The chain here is a real loopback socket that takes connections and never
answers (what a stopped process's listening socket does); the audit is a real process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import Chain

ROOT = Path(__file__).resolve().parents[1]
SAID_WITHIN = 20.0
"""Seconds from the audit's first connection to the chain by which it must have said so
(the RPC's own timeout, after which it would fail, is 30)."""
STARTS_WITHIN = 60.0
"""Seconds the audit process may take to start and connect (a loaded machine's imports)."""


def test_an_audit_of_a_silent_chain_says_so_soon(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections taken; no request is ever answered
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        taken: list[tuple[float, socket.socket]] = []
        said: list[tuple[float, bytes]] = []

        def take() -> None:
            with contextlib.suppress(OSError):  # (closed at the end)
                conn, _ = silent.accept()
                taken.append((time.monotonic(), conn))

        proc = subprocess.Popen(
            [sys.executable, "-m", "sdex", "audit", "--deployment", str(deployment), "--rpc", url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300"},
        )
        assert proc.stderr is not None
        err = proc.stderr

        def read() -> None:
            for line in iter(err.readline, b""):
                said.append((time.monotonic(), line))

        threads = [threading.Thread(target=f, daemon=True) for f in (take, read)]
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + STARTS_WITHIN + SAID_WITHIN
            while not said and time.monotonic() < deadline and proc.poll() is None:
                threads[1].join(0.1)
            assert taken, "the audit never connected to the chain"
            assert said, f"nothing said within {SAID_WITHIN} s of connecting"
            at, line = said[0]
            assert f"the chain at {url} has not answered" in line.decode(), line
            assert at - taken[0][0] < SAID_WITHIN  # (before the RPC's timeout would end it)
            assert proc.poll() is None  # (still waiting for it, as it says)
        finally:
            proc.kill()
            proc.wait()
            for _, conn in taken:
                conn.close()
