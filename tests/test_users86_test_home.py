"""users86: the suite's guard of the real home (users83) watches the suite's own home.

users83's guard (``conftest.real_home_untouched``) watched the real home's ``~/.sdex`` by its
modification times: a developer running ``sdex order`` on the same machine during a run (it
keeps each order it signs in ``~/.sdex/wallet/orders``) failed whichever test was running.
Now the suite's process and its children run with ``$HOME`` at a directory of the session's,
the only one watched: a write into "~/.sdex" by a test lands there (the real home is never
written) and fails that test; the real home's own writes fail nothing.

A pytest run of its own (a child process, the suite's conftest as a plugin) with ``$HOME``
at a stand-in for a developer's home: one test writes there as the developer's ``sdex
order`` would, another keeps an order as a wallet command given no ``$SDEX_WALLET_DIR``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

INNER = """
import os
from pathlib import Path

from sdex.walletkeep import WALLET_DIR_ENV, wallet_dir


def test_the_developers_own_wallet_command_meanwhile():
    orders = Path(os.environ["SDEX_TEST_REAL_HOME"]) / ".sdex/wallet/orders"
    (orders / "0xdeveloper.json").write_text("{}")  # (their sdex order, not the test's)


def test_a_wallet_command_given_no_wallet_directory(monkeypatch):
    monkeypatch.delenv(WALLET_DIR_ENV)
    kept = wallet_dir() / "orders"
    kept.mkdir(parents=True, exist_ok=True)
    (kept / "0xtest.json").write_text("{}")
"""


def test_only_the_suites_own_home_is_watched(tmp_path: Path) -> None:
    home = tmp_path / "developer"
    orders = home / ".sdex/wallet/orders"
    orders.mkdir(parents=True)
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {k: v for k, v in os.environ.items() if k not in ("SDEX_TEST_REAL_HOME", "HOME")}
    env |= {"HOME": str(home), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider",
         "-p", "no:xdist", "-o", "addopts=", str(tmp_path / "test_inner.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    said = run.stdout + run.stderr
    ended = [line for line in said.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert len(ended) == 1, said  # (the guard fails a test at its teardown: an error)
    assert "test_a_wallet_command_given_no_wallet_directory" in ended[0], said
    assert "wrote into its home directory" in said and str(home) in said, said
    assert sorted(p.name for p in orders.iterdir()) == ["0xdeveloper.json"]  # (real home kept)
