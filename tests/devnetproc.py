"""A real ``sdex devnet`` process on a free port, read till it says it runs (devnet, user31,
user81): its start and its stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.nodeutil import ROOT

RUNNING = "running until interrupted"


@contextmanager
def devnet_running(
    cwd: Path, port: int, args: list[str], columns: int = 200
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``sdex devnet --port port *args`` started in ``cwd`` on a ``columns`` wide terminal,
    its output read till it says it runs: the process and the lines it printed (their
    ends of line cut). Stopped at the end if it still runs: SIGINT (a killed devnet leaves
    its chain running), then, past 30 s, killed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sdex.cli", "devnet", "--port", str(port), *args],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(columns)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # (ends when the process does: bounded by its start timeout)
            lines.append(line.rstrip("\n"))
            if RUNNING in line:
                break
        assert RUNNING in "\n".join(lines), "\n".join(lines)
        yield proc, lines
    finally:
        if proc.stdout is not None:
            proc.stdout.close()
        if proc.poll() is None:  # (SIGINT first: a killed devnet leaves its chain running)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
