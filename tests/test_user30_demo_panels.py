"""The demo's panels (user30's trial): in an 80-column terminal, and in ``demo.log``, each
chapter's story and the kept network's panel were cut at the panel's edge ("... node-3 starts
knowing only node-1's address and finds i", "--deployment .sdex/demo/devnet.json fo"): the
demo's console does not wrap long lines (``soft_wrap``, so hashes and URLs stay whole), and
a panel's text was cropped with them. Panels wrap now; the lines around them still do not."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from sdex.demo import say_panel
from sdex.demorun import keep_running, kept_text


def _terminal(width: int = 80) -> Console:
    """The demo's own console (``sdex demo``), at a terminal's width."""
    return Console(record=True, soft_wrap=True, width=width, color_system=None)


def _words(said: str) -> list[str]:
    return [w for w in said.replace("│", " ").split() if w not in "╭╮╰╯─"]


def test_a_chapter_panel_keeps_every_word_at_80_columns() -> None:
    story = (
        "node-1 starts alone; node-3 starts knowing only node-1's address and finds it by "
        "gossip (peer exchange). Each node signs its settlements with its own operator key."
    )
    out = _terminal()
    say_panel(out, story, "1. Two nodes")
    printed = out.export_text()
    assert " ".join(_words(story)) in " ".join(_words(printed)), printed
    assert max(len(line) for line in printed.splitlines()) <= 80, printed


@dataclass
class _Proc:
    url: str

    def running(self) -> bool:
        return False  # (keep_running returns at once: "a node exited")


@dataclass
class _Node:
    name: str
    proc: _Proc


@dataclass
class _Story:
    nodes: dict[str, _Node]
    log_dir: Path


def test_the_kept_network_panel_keeps_the_deployment_hint_whole() -> None:
    nodes = {n: _Node(n, _Proc(f"http://127.0.0.1:2160{i}")) for i, n in enumerate(["a", "b"])}
    story = _Story(nodes, Path(".sdex/demo"))
    out = _terminal()
    keep_running(out, story)  # type: ignore[arg-type]
    printed = " ".join(_words(out.export_text()))
    hint = kept_text([(n.name, n.proc.url) for n in nodes.values()])
    assert " ".join(_words(hint)) in printed, printed
    assert "for book, each of these, and audit:" in printed, printed
