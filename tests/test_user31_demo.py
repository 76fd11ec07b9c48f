"""user31: ``make demo KEEP=1``'s panel in an 80-column terminal broke its hint mid-bracket,
the second half flush left ("(a key from .sdex/demo/devnet.json; --deployment
.sdex/demo/devnet.json" over "for cancel --onchain and audit)"). Each line of it now fits an
80-column panel whole, with ports of five digits, as the demo's are."""

from __future__ import annotations

from pathlib import Path

from sdex.demorun import keep_running
from tests.test_user30_demo_panels import _Node, _Proc, _Story, _terminal


def test_the_kept_panel_breaks_no_line_at_80_columns() -> None:
    nodes = {n: _Node(n, _Proc(f"http://127.0.0.1:3074{i}")) for i, n in enumerate(["a", "b"])}
    out = _terminal()
    keep_running(out, _Story(nodes, Path(".sdex/demo")))  # type: ignore[arg-type]
    lines = out.export_text().splitlines()
    inside = [line.strip("│ ") for line in lines if line.startswith("│")]
    book = ".venv/bin/sdex book --node http://127.0.0.1:30740 --deployment .sdex/demo/devnet.json"
    assert f"from the command line: {book}" in lines  # (after the panel, whole: users83)
    said = "--deployment FILE for book, each of these, and audit:"
    assert said in " ".join(inside)
    # (ux65: the console's balance reads the chain the deployment file names, as balance does;
    # wallet79: order, book, cancel and the console check the node's listing against it)
    assert "order, book, cancel and console check the node's listing against it" in inside
    assert "(without it they warn), balance and cancel --onchain read its chain" in inside
    for line in inside:
        assert line.count("(") == line.count(")"), inside
        assert not line.startswith(("for ", "audit")), inside  # (no line's tail on its own)
