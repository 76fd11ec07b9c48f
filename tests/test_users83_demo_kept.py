"""users83: ``sdex demo --keep``'s "network stays up" panel with a long ``--log-dir``.

The panel named the deployment file (``<log-dir>/devnet.json``) inside its box: a long
log directory's path was broken across the panel's lines at 80 columns, and copied so it
named no file. Its ``sdex book`` example had no ``--deployment``: run as printed, it warned
that the node's listing was unchecked. Now the panel holds no path, and the commands after
it are printed whole, the example with ``--deployment``."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.demorun import keep_running
from tests.test_user30_demo_panels import _Node, _Proc, _Story, _terminal

LONG = Path("/home/someone/projects/sdex-trials/run-2026-12-07/with-a-long-name/demo-logs")


@pytest.mark.parametrize("log_dir", [Path(".sdex/demo"), LONG], ids=["default", "long"])
def test_the_kept_panel_prints_whole_commands_with_the_deployment(log_dir: Path) -> None:
    nodes = {n: _Node(n, _Proc(f"http://127.0.0.1:2160{i}")) for i, n in enumerate(["a", "b"])}
    out = _terminal()
    keep_running(out, _Story(nodes, log_dir))  # type: ignore[arg-type]
    lines = out.export_text().splitlines()
    boxed = [line for line in lines if line[:1] in "╭│╰"]
    assert boxed and all(len(line) <= 80 for line in boxed), "\n".join(lines)
    deployment = str(log_dir / "devnet.json")
    book = [line for line in lines if "sdex book" in line]
    assert len(book) == 1, "\n".join(lines)
    command = shlex.split(book[0].split(": ", 1)[1])
    assert command == [
        ".venv/bin/sdex", "book", "--node", "http://127.0.0.1:21600", "--deployment", deployment,
    ], book  # fmt: skip
    # (the command as printed parses: book takes each option given)
    r = CliRunner().invoke(main, [*command[1:], "--help"])
    assert r.exit_code == 0, r.output
    assert f"deployment file: {deployment}" in lines, "\n".join(lines)
