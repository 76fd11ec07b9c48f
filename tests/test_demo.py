"""``sdex demo`` end to end, as ``make demo`` runs it: its own devnet, three node processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def demo(log_dir: Path, timeout: float, **env: str) -> tuple[int, str]:
    """``sdex demo`` as ``make demo`` runs it (``env`` added to this process's): its exit
    code and everything it said."""
    done = subprocess.run(
        [sys.executable, "-m", "sdex.cli", "demo", "--log-dir", str(log_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    return done.returncode, done.stdout + done.stderr


def test_demo_tells_the_whole_story_and_exits_clean(tmp_path: Path) -> None:
    log_dir = tmp_path / "demo"
    code, out = demo(log_dir, 240)
    assert code == 0, out
    # the devnet panel names each token's minimum order size (the nodes' default)
    assert "minimum order size: 0.0001 WETH, 0.1 USDC" in out, out
    # piped (not a terminal): a tx hash stays on its line, whole (user29: rich wrapped the
    # demo's lines at 80 columns, splitting the hash)
    assert re.search(r"settlement tx in block \d+:\n  0x[0-9a-f]{64}\n", out), out
    # (user38: lines up to 190 columns piped; every line fits 80 now)
    assert [line for line in out.splitlines() if len(line) > 80] == [], out
    log = (log_dir / "demo.log").read_text()
    for step in [
        "bob's sell is filled on chain",
        "alice's buy is half filled",
        "node-2 loaded alice's order from a peer",
        "carol's sell is filled",
        "dave's order is filled on chain, exactly once",
        "dave's order left every book",
        "buy left every book",
        "demo finished",
    ]:
        assert step in log, step
    # the race's loser: refused on chain, withdrawn unsent, or no match (demo80: said as it went)
    assert re.search(r"the chain settled (erin|frank)'s match; (erin|frank)'s", log), log
    assert "FAILED" not in log


def test_a_chain_that_does_not_start_fails_the_demo_in_one_line(tmp_path: Path) -> None:
    """Hardhat that cannot start (here: Node given an option it refuses): the demo says it
    failed and why, exits 1, with no traceback (the devnet's error escaped it)."""
    code, out = demo(tmp_path / "demo", 120, NODE_OPTIONS="--no-such-node-option")
    assert code == 1, out
    assert "Traceback" not in out
    assert "demo failed" in out and "exited with" in out
