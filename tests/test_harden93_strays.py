"""No process a test started outlives it (``tests/strays.py``): a pytest run of its own, whose
tests fail (one by pytest-timeout) with a real ``sdex node``, a sleeping child and that
child's own child still running, leaves none of them running once it ends.

harden93: before, each of them ran on after its test (and the run) ended: a node holding its
port and a share of a loaded 2-core CI machine's CPU for the rest of a whole-suite run."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import ROOT
from tests.strays import start_time

INNER = """
import os, subprocess, sys, time
from pathlib import Path

import pytest

from sdex.devnet import free_port
from sdex.node.process import NodeProcess

HERE = Path(__file__).parent
SLEEP = [sys.executable, "-c", "import time; time.sleep(600)"]
QUIET = {"stdin": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # (the run's pipes not held)


def note(*pids: int) -> None:
    with (HERE / "pids").open("a") as f:
        f.writelines(f"{p}\\n" for p in pids)


def test_a_node_started_and_never_stopped() -> None:
    node = NodeProcess(
        free_port(), HERE / "devnet.json", bytes.fromhex(os.environ["KEY"]), HERE / "n.db",
        HERE / "n.log",
    ).start()
    node.wait_ready(120)
    assert node.proc is not None
    note(node.proc.pid)
    raise AssertionError("failed before its last line stopped the node")


def test_a_child_and_its_own_child() -> None:
    spawn = (
        "import subprocess, sys, time; "
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); "
        "print(p.pid, flush=True); time.sleep(600)"
    )
    child = subprocess.Popen([sys.executable, "-c", spawn, *SLEEP], stdout=subprocess.PIPE, **QUIET)
    assert child.stdout is not None
    note(child.pid, int(child.stdout.readline()))
    raise AssertionError("failed mid-way")


@pytest.mark.timeout(3)
def test_failed_by_pytest_timeout() -> None:
    child = subprocess.Popen(SLEEP, stdout=subprocess.DEVNULL, **QUIET)
    note(child.pid)
    time.sleep(60)
    child.kill()
"""


def test_no_process_a_failed_test_started_outlives_it(chain: Chain, tmp_path: Path) -> None:
    chain.deployment.save(tmp_path / "devnet.json")
    (tmp_path / "test_inner.py").write_text(INNER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.strays",
            "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env={**__import__("os").environ, "KEY": chain.keys[16].hex(), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    said = run.stdout + run.stderr
    assert "3 failed" in said, said
    assert "Timeout" in said, said
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert len(pids) == 4, said
    deadline = time.monotonic() + 30  # (a killed process's exit, seen once it is reaped)
    while (running := [p for p in pids if start_time(p) is not None]) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.1)
    assert running == [], said  # before: all four ran on


LEAKER = """
import subprocess, sys


def test_leaves_a_sleeper() -> None:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)  # flake95-sleeper"])


def test_leaves_nothing() -> None:
    pass
"""


def test_a_leak_is_said_in_the_summary_and_fails_nothing(tmp_path: Path) -> None:
    """flake95: the processes a test left were killed silently (its report's section is shown
    only for a failed test): which test left what is said at the run's end, and the test
    still passes."""
    (tmp_path / "test_leaker.py").write_text(LEAKER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.strays",
            "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path), str(tmp_path),
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    said = run.stdout + run.stderr
    assert run.returncode == 0 and "2 passed" in said, said
    summary = said[said.index("strays: 1 test(s) left processes running (killed)") :]
    assert "test_leaker.py::test_leaves_a_sleeper\n" in summary, said
    assert "flake95-sleeper" in summary and "test_leaves_nothing" not in summary, said
