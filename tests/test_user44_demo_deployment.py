"""user44's trial: after ``make demo KEEP=1`` the README's wallet commands (``sdex audit
--deployment .sdex/devnet.json``, ``sdex cancel --onchain`` with its default) said "no
deployment file at .sdex/devnet.json: start `sdex devnet` or pass --deployment PATH", with
nothing on the file the running demo wrote. The error now names the demo's file when it is
there; otherwise it is as before."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main

DEMO_PATH = Path(".sdex/demo/devnet.json")  # (the demo's, as its KEEP=1 panel says)


def _audit(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(cwd)
    r = CliRunner().invoke(main, ["audit"], env={"COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    return " ".join(r.output.split())


def test_a_missing_deployment_names_the_demos_file_when_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    said = _audit(tmp_path, monkeypatch)
    assert said == (
        "error: no deployment file at .sdex/devnet.json: start `sdex devnet` or pass "
        "--deployment PATH"
    ), said
    (tmp_path / DEMO_PATH).parent.mkdir(parents=True)
    (tmp_path / DEMO_PATH).write_text("{}")
    said = _audit(tmp_path, monkeypatch)
    assert said == (
        "error: no deployment file at .sdex/devnet.json: start `sdex devnet` or pass "
        "--deployment PATH (`make demo KEEP=1` writes its network's to .sdex/demo/devnet.json, "
        "while it runs)"
    ), said
