"""The shape of the source tree: no import cycle in sdex/, no module over 500 lines.

Imports are read with ``ast`` (nothing is imported), including those under
``if TYPE_CHECKING:`` and inside functions: a deferred import still ties two modules together.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

SDEX = Path(__file__).resolve().parent.parent / "sdex"
MAX_LINES = 500


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
    assert cycles(graph()) == []


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


# ---- docs/ARCHITECTURE.md's package table: what each package "may import" ----------------------

ARCHITECTURE = SDEX.parent / "docs" / "ARCHITECTURE.md"
SHARED = {"errors", "jsonio", "localfile", "futures"}
"""Leaf helpers every package may import (the table says so above it, and lists them nowhere)."""


def package_table(text: str) -> list[tuple[list[str], set[str]]]:
    """The table's rows: (its packages, the sdex names its "may import" column allows), in
    order. A row's packages are those of its first column and the modules its role names
    that extend one of them (``store``'s ``sdex.storeread``); "all of the above" allows
    every earlier row's packages ("everything": any); words in parentheses are notes."""
    section = text.split("## Packages (data flow order)", 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[list[str], set[str]]] = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        heads = [n.split(".")[1] for n in re.findall(r"`(sdex\.\w+)`", cells[0])]
        if len(cells) < 3 or not heads:
            continue
        named = re.findall(r"`sdex\.(\w+)`", " ".join(cells[1:-1]))
        members = heads + [
            n for n in named if n not in heads and any(n.startswith(h) for h in heads)
        ]
        allowed = set(re.findall(r"[a-z_]+", re.sub(r"\([^)]*\)", "", cells[-1])))
        if "above" in allowed:
            allowed |= {n for earlier, _ in rows for n in earlier}
        rows.append((members, allowed))
    return rows


def undeclared_imports(text: str, g: dict[str, set[str]]) -> dict[str, set[str]]:
    """Per row (by its first package), the sdex packages its modules import that its column
    does not allow (a package's own modules, and ``SHARED``, always allowed)."""
    rows = package_table(text)
    row_of = {n: names for names, _ in rows for n in names}
    out: dict[str, set[str]] = {}
    for names, allowed in rows:
        if "everything" in allowed:
            continue
        for mod, targets in g.items():
            if mod.count(".") == 0 or mod.split(".")[1] not in names:
                continue
            for t in targets:
                top = t.split(".")[1] if t.count(".") else ""
                if not top or top in names or top in SHARED or top in allowed:
                    continue
                if not set(row_of.get(top, [])) & allowed:
                    out.setdefault(names[0], set()).add(top)
    return out


def test_architecture_package_table_lists_every_import() -> None:
    """Every sdex package a package imports is in its row's "may import" column."""
    assert undeclared_imports(ARCHITECTURE.read_text(), graph()) == {}


def test_package_table_checker_finds_an_undeclared_import() -> None:
    text = (
        "## Packages (data flow order)\n\n| package | role | may import |\n|---|---|---|\n"
        "| `sdex.order` | x | keccak |\n| `sdex.store` | y (`sdex.storeread`) | order |\n"
        "| `sdex.cli` | z | everything |\n\n## Next\n"
    )
    g = {
        "sdex.order": {"sdex.keccak", "sdex.errors"},
        "sdex.storeread": {"sdex.order", "sdex.model"},
        "sdex.store": {"sdex.storeread"},
        "sdex.cli": {"sdex.store", "sdex.model"},
    }
    assert undeclared_imports(text, g) == {"store": {"model"}}
