"""left75: ``make demo KEEP=1``'s panel listed the nodes in the order the story started them
(node-1, node-3, node-2); it lists them by name."""

from __future__ import annotations

from pathlib import Path

from sdex.demorun import keep_running
from tests.test_user30_demo_panels import _Node, _Proc, _Story, _terminal


def test_the_kept_panel_lists_the_nodes_by_name() -> None:
    started = ["node-1", "node-3", "node-2"]  # (the story's order: node-3 finds node-1 first)
    nodes = {n: _Node(n, _Proc(f"http://127.0.0.1:3074{n[-1]}")) for n in started}
    out = _terminal()
    keep_running(out, _Story(nodes, Path(".sdex/demo")))  # type: ignore[arg-type]
    lines = out.export_text().splitlines()
    inside = [line.strip("│ ") for line in lines if line.startswith("│")]
    listed = [line.split(":")[0] for line in inside if line.startswith("node-")]
    assert listed == ["node-1", "node-2", "node-3"], inside
    assert "node-2: http://127.0.0.1:30742/" in inside, inside
    book = "from the command line: .venv/bin/sdex book --node http://127.0.0.1:30741 "
    assert any(line.startswith(book) for line in lines), lines  # (after the panel: users83)
