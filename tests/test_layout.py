"""The shape of the source tree: no import cycle in sdex/, no module over 500 lines.

Imports are read with ``ast`` (nothing is imported), including those under
``if TYPE_CHECKING:`` and inside functions: a deferred import still ties two modules together.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SDEX = Path(__file__).resolve().parent.parent / "sdex"
MAX_LINES = 500

ALLOWED_EDGES = {("sdex.gossip", "sdex.node")}
"""Package pairs whose edges are left out of the cycle check while they exist.

gossip <-> node: ``sdex.gossip.gossip`` types its ``Node`` and ``sdex.gossip.routes`` reads
the HTTP helpers through ``sdex.node.api``, while the node wires gossip in. The gossip core
is being made transport-free (issue 15, item 2): gossip will then import nothing from node,
and this allowance goes."""


def module_name(path: Path, base: Path) -> str:
    parts = path.relative_to(base).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = SDEX) -> dict[str, Path]:
    return {module_name(p, root.parent): p for p in sorted(root.rglob("*.py"))}


def imported(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """The sdex modules ``name`` imports: ``from pkg import x`` names ``pkg.x`` when that is
    a module, else ``pkg``; relative imports are resolved against ``name``'s package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in known:
                    yield sub
                elif base in known:
                    yield base


def graph(root: Path = SDEX) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods)
    return {
        name: {t for t in imported(name, path, known) if t != name} for name, path in mods.items()
    }


def _package(mod: str) -> str:
    return ".".join(mod.split(".")[:2])


def allowed(src: str, dst: str) -> bool:
    return (_package(src), _package(dst)) in ALLOWED_EDGES


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_in_sdex() -> None:
    g = graph()
    kept = {src: {dst for dst in dsts if not allowed(src, dst)} for src, dsts in g.items()}
    assert cycles(kept) == []


def test_the_gossip_allowance_is_still_needed() -> None:
    """Once gossip imports nothing from node, ALLOWED_EDGES must go (this fails to say so)."""
    g = graph()
    assert any(allowed(src, dst) for src, dsts in g.items() for dst in dsts)


def test_no_module_over_500_lines() -> None:
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


# ---- the checker itself, on a tree written for the test ----------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return tmp_path / "sdex"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # a direct cycle through `from pkg import module`
            {
                "sdex/__init__.py": "",
                "sdex/a.py": "from sdex import b\n",
                "sdex/b.py": "import sdex.a\n",
            },
            [["sdex.a", "sdex.b"]],
        ),
        (  # a cycle through a deferred import and a relative one, three long
            {
                "sdex/__init__.py": "",
                "sdex/p/__init__.py": "",
                "sdex/p/x.py": "from .y import f\n",
                "sdex/p/y.py": "def f():\n    from sdex.z import g\n",
                "sdex/z.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                "    from sdex.p.x import h\n",
            },
            [["sdex.p.x", "sdex.p.y", "sdex.z"]],
        ),
        (  # names imported from a package (not modules) point at the package: no cycle
            {
                "sdex/__init__.py": "",
                "sdex/p/__init__.py": "from sdex.p.x import X\n",
                "sdex/p/x.py": "X = 1\n",
                "sdex/q.py": "from sdex.p import X\n",
            },
            [],
        ),
    ],
)
def test_cycle_finder(tmp_path: Path, files: dict[str, str], expected: list[list[str]]) -> None:
    assert cycles(graph(_tree(tmp_path, files))) == expected
