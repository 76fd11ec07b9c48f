"""``make demo`` printed "watch it in a browser: http://127.0.0.1:30327/" and stopped every
process six seconds later (user29's trial): the page was gone before a user could open it,
and nothing said how to keep it. Without ``--keep`` the line now says the network stops with
the story and how to keep it up; with it, the page stays (``keep_running`` lists every node)."""

from __future__ import annotations

from pathlib import Path

from sdex.demo import watch_line
from sdex.demorun import kept_commands, kept_text


def test_the_browser_line_says_when_the_page_goes_and_how_to_keep_it() -> None:
    url = "http://127.0.0.1:8001"
    said = watch_line(url, keep=False)
    assert said.startswith(f"watch it in a browser: {url}/ (every node serves the page"), said
    assert "the network stops when the story ends: `make demo KEEP=1` keeps it up" in said
    kept = watch_line(url, keep=True)
    assert kept.startswith(f"watch it in a browser: {url}/"), kept
    assert "KEEP" not in kept and "stays up after the story" in kept, kept
    # (user38: one line of 152 columns piped; the demo indents it by two)
    for text in (said, kept):
        assert all(len("  " + line) <= 80 for line in text.splitlines()), text


def test_the_kept_network_says_how_to_reach_it_from_the_command_line() -> None:
    """``make demo KEEP=1`` (user29's trial): the README's wallet commands name
    ``.sdex/devnet.json``, which the demo does not write: ``sdex cancel --onchain`` and
    ``sdex audit`` then found no deployment. The panel now names the demo's own file and a
    command pointed at node-1."""
    log_dir = Path(".sdex/demo")
    nodes = [("node-1", "http://127.0.0.1:8001"), ("node-3", "http://127.0.0.1:8003")]
    said = kept_text(nodes)
    lines = said.splitlines()
    assert lines[:2] == ["node-1: http://127.0.0.1:8001/", "node-3: http://127.0.0.1:8003/"]
    assert "--deployment FILE for book, each of these, and audit:" in said
    assert lines[-1] == "Ctrl-C stops everything"
    assert kept_commands(nodes, log_dir) == [  # (after the panel, users83)
        "deployment file: .sdex/demo/devnet.json",
        "from the command line: .venv/bin/sdex book --node http://127.0.0.1:8001 "
        "--deployment .sdex/demo/devnet.json",
    ]
