"""The compiled book (mypyc, ``sdex.book.native``): it is the Python source, and never a stale one.

- Differential: random node-like operation sequences (``tests/bookdriver.py``) run on the
  book of this process (compiled when built) and on the Python source in a ``SDEX_PURE=1``
  subprocess; every result and the whole state after every operation must be equal.
- The guard, on a copy of the source tree with a build (the one here, or one made for the
  test): the build is used when current; ``SDEX_PURE=1`` forces the source; an edited source,
  a missing or a foreign extension module make every compiled module load from its ``.py``,
  with a warning.
"""

from __future__ import annotations

import ast
import importlib.machinery
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sdex.book import native
from sdex.book.levels import Account
from sdex.book.prices import ratio as _ratio
from sdex.matching.wide import low62, mul, muldiv
from tests import bookdriver, test_book_state

ROOT = Path(__file__).resolve().parents[1]
EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)
"""What a compiled module's file name ends with."""
PROBE = (
    "import json, sys, warnings\n"
    "warnings.simplefilter('always')\n"
    "import sdex.matching\n"
    "from sdex.book import native\n"
    "print(json.dumps([native.ACTIVE, native.REASON, "
    "{m: sys.modules[m].__file__ for m in native.COMPILED}]))\n"
)


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SDEX_PURE"}
    env.update(PYTHONPATH=str(root), **extra)
    return env


# ---- differential -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pure_driver() -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.bookdriver"],
        cwd=ROOT,
        env=_env(ROOT, SDEX_PURE="1"),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    yield proc
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def _pure_send(proc: subprocess.Popen[str], ops: list[list[Any]]) -> None:
    """Sends ``ops`` to the driver, which runs them while this process runs its own."""
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(ops) + "\n")
    proc.stdin.flush()


def _pure_answer(proc: subprocess.Popen[str]) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the driver answers each line (bounded by pytest's timeout)
    assert line, "the pure-Python driver died"
    out: dict[str, Any] = json.loads(line)
    return out


ARITY = {
    "submit": 1,
    "unfundable": 1,
    "selfcross": 1,
    "cancel": 1,
    "shrink": 2,
    "rematch": 2,
    "settle": 2,
    "funds": 3,
}
KINDS = ["submit"] * 10 + ["cancel", "shrink", "rematch", "funds", "advance", "uncross"]
KINDS += ["settle"] * 4 + ["unfundable", "selfcross"]


def _ops() -> st.SearchStrategy[list[list[Any]]]:
    small = st.integers(0, 2**16)
    one = st.tuples(st.sampled_from(KINDS), small, small, small).map(
        lambda t: [t[0], *t[1 : 1 + ARITY.get(t[0], 1 if t[0] == "advance" else 0)]]
    )
    return st.lists(one, min_size=20, max_size=100)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops())
def test_compiled_and_pure_agree(pure_driver: subprocess.Popen[str], ops: list[list[Any]]) -> None:
    if not native.ACTIVE:
        if os.environ.get("SDEX_PURE") == "1":  # asked for the source: nothing to compare
            pytest.skip(f"the compiled book is not in use here ({native.REASON})")
        pytest.fail(f"the compiled book is not in use ({native.REASON}): run `make setup`")
    _pure_send(pure_driver, ops)  # (the two books run at once: two cores, half the wait)
    try:
        here = bookdriver.run(ops)
    finally:  # (read even when this side raises: the next example's answer is its own)
        there = _pure_answer(pure_driver)
    trades = sum(len(r[2]) for step in here["steps"] for r in _results(step[0]))
    event("matches: " + ("none" if not trades else "1-4" if trades < 5 else "5+"))
    for i, (a, b) in enumerate(zip(here["steps"], there["steps"], strict=True)):
        assert a == b, f"operation {i} {ops[i]}: compiled {a} != pure {b}"
    assert here["final"] == there["final"]


def _results(out: Any) -> list[list[Any]]:
    """The engine's results in one step's output (a list of them, or something else)."""
    if isinstance(out, list) and out and isinstance(out[0], list) and len(out[0]) == 5:
        return out
    return []


def test_the_book_model_holds_on_the_compiled_book() -> None:
    """``tests/test_book_state.py``'s model (canonical allocation after every step, self-crosses,
    unfundable orders) runs against the book this process uses: ``TestBookMachine`` there runs
    it (300 examples of 50 steps) on the compiled book when built, the source under
    ``SDEX_PURE=1``. Here: a build is in use, and every module of the book and the engine that
    machine drives, and the classes it calls, are the compiled ones (a second run of the same
    machine on the same book here took 108-176 s of a worker, speed52)."""
    if not native.ACTIVE:
        if os.environ.get("SDEX_PURE") == "1":  # test_book_state runs it on the source
            pytest.skip(f"the compiled book is not in use here ({native.REASON})")
        pytest.fail(f"the compiled book is not in use ({native.REASON}): run `make setup`")
    for name in native.COMPILED:
        assert str(sys.modules[name].__file__).endswith(EXTENSIONS), sys.modules[name].__file__
    for cls in (test_book_state.OrderBook, test_book_state.MatchingEngine, test_book_state.Order):
        module = sys.modules[cls.__module__]
        assert cls.__module__ in native.COMPILED, cls
        assert str(module.__file__).endswith(EXTENSIONS), (cls, module.__file__)


def test_driver_trades() -> None:
    """The driver's sequences do trade, rest, settle and expire (else the differential test
    compares empty books)."""
    ops: list[list[Any]] = [["funds", 0, 0, 0]]
    ops += [["submit", seed] for seed in range(40)]
    ops += [["settle", 0, 1], ["settle", 0, 0], ["advance", 199], ["advance", 199]]
    out = bookdriver.run(ops)
    results = [step[0][0] for step in out["steps"][1:41]]  # one result per submit
    assert sum(len(r[2]) for r in results) >= 5  # matches
    assert sum(r[1] == "rested" for r in results) >= 5
    assert out["steps"][41][0] == "confirmed"
    assert out["steps"][-2][0] or out["steps"][-1][0]  # the advances expired resting orders
    assert out["final"]["snapshot"]["orders"]


def test_level_rank_is_correctly_rounded() -> None:
    """Compiled, ``int / int`` converts both ints to floats first (two roundings);
    ``prices.ratio`` must equal Python's correctly rounded division all the same, or
    levels would be ranked out of price order."""
    big = [2**53 - 1, 2**53 + 1, 2**62 + 3, 2**63 - 25, 3**40 + 7, 10**30 + 1]
    small = [1, 3, 7, 10**6 + 3, 2**52 + 1]
    for n in big + small:
        for d in big + small:
            assert _ratio(n, d) == n / d, (n, d)
    # where two roundings go wrong (a third of such pairs): float(n) / float(d) is off by one
    n, d = 1815690225313428402, 2819327710181577350
    assert float(n) / float(d) != n / d == _ratio(n, d)


_AMOUNT = st.one_of(
    st.integers(0, 2**64),
    st.integers(2**59, 2**62),
    st.integers(0, 2**256 - 1),
    st.sampled_from([0, 1, 2**60 - 1, 2**60, 2**61 - 1, 2**61, 2**62 - 1, 2**62]),
)


@settings(max_examples=300, deadline=None)
@given(
    spendable=st.one_of(st.none(), _AMOUNT),
    steps=st.lists(st.tuples(st.sampled_from(["spend", "covers", "set"]), _AMOUNT), max_size=30),
)
def test_account_funds_are_exact(spendable: int | None, steps: list[tuple[str, int]]) -> None:
    """``Account`` keeps spendable as ``base - spent`` with machine-int shortcuts (compiled:
    this process runs the build when there is one): every answer is the plain ints' one,
    across the thresholds where the shortcuts stop."""
    a = Account("0x" + "11" * 20, "0x" + "22" * 20, spendable)
    model = spendable
    for kind, amount in steps:
        if kind == "set":
            a.set_spendable(amount)
            model = amount
        elif kind == "spend":
            ok = model is None or model >= amount
            assert a.spend(amount) is ok
            if ok and model is not None:
                model -= amount
        else:
            a.open, a.reserved = amount // 3, amount - amount // 3
            assert a.covers() is (model is None or amount <= model)
        assert a.spendable == model


_WIDE = st.one_of(
    st.integers(0, 2**31),
    st.integers(2**31, 2**62 - 1),
    st.integers(0, 2**70),
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**52, 2**59 - 1, 2**59, 2**62 - 1, 2**62]),
)


@settings(max_examples=2000, deadline=None)
@given(a=_WIDE, n=_WIDE, d=st.one_of(st.integers(1, 2**20), _WIDE.filter(bool)))
def test_muldiv_is_divmod(a: int, n: int, d: int) -> None:
    """``wide.muldiv`` (float estimate, remainder modulo 2**62 by halves) is ``divmod``
    exactly, compiled (this process runs the build when there is one) as in the source."""
    assert muldiv(a, n, d) == divmod(a * n, d)
    assert mul(a, n) == a * n
    if a < 2**62 and n < 2**62:
        assert low62(a, n) == a * n % 2**62


def test_muldiv_near_the_bounds() -> None:
    for d in (1, 3, 2**31 - 1, 2**58 + 1, 2**59 - 1):
        for q in (0, 1, 2**52 - 1, 2**52 - 2, 2**51 + 1):
            for extra in (0, 1, d - 1):
                p = q * d + extra
                for a in {1, 2, 3, 2**31 + 1, 2**40 + 7, 2**61 + 1}:
                    n = p // a
                    for nn in (n - 1, n, n + 1):
                        if 0 <= nn < 2**62:
                            assert muldiv(a, nn, d) == divmod(a * nn, d), (a, nn, d)


# ---- the guard ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def built_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``sdex/`` with a current build: this checkout's, or one made here."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(ROOT / "sdex", root / "sdex", ignore=shutil.ignore_patterns("__pycache__"))
    if not _probe(root)[0]:
        subprocess.run(
            [sys.executable, "-m", "sdex.book.nativebuild"],
            cwd=root,
            env=_env(root, SDEX_PURE="1"),
            check=True,
            capture_output=True,
            timeout=600,
        )
    return root


def _probe(root: Path, **env: str) -> tuple[bool, str, dict[str, str], str]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=root,
        env=_env(root, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    active, reason, files = json.loads(proc.stdout)
    return active, reason, files, proc.stderr


def _all_source(files: dict[str, str]) -> bool:
    return all(f.endswith(".py") for f in files.values())


def test_current_build_is_used(built_tree: Path) -> None:
    active, reason, files, err = _probe(built_tree)
    assert active, reason
    assert all(f.endswith(".so") for f in files.values()), files
    assert "RuntimeWarning" not in err


def test_sdex_pure_forces_source(built_tree: Path) -> None:
    active, reason, files, err = _probe(built_tree, SDEX_PURE="1")
    assert not active and reason == "SDEX_PURE is set"
    assert _all_source(files), files
    assert "RuntimeWarning" not in err


def _variant(built_tree: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(built_tree, root)
    return root


@pytest.mark.parametrize("pure", [False, True])
def test_order_imported_first_follows_the_decision(built_tree: Path, pure: bool) -> None:
    """``sdex.order`` is compiled outside the book's packages: imported before anything of
    the book, it is still the build only when the build is used (``sdex/__init__``)."""
    check = "import sdex.order as o; from sdex.book import native; print(native.ACTIVE, o.__file__)"
    env = _env(built_tree, SDEX_PURE="1") if pure else _env(built_tree)
    out = subprocess.run(
        [sys.executable, "-c", check], cwd=built_tree, env=env, capture_output=True, text=True
    )
    active, path = out.stdout.split()
    assert active == str(not pure)
    assert path.endswith(".py" if pure else ".so"), path


def test_edited_source_is_never_shadowed(built_tree: Path, tmp_path: Path) -> None:
    root = _variant(built_tree, tmp_path)
    engine = root / "sdex" / "matching" / "engine.py"
    engine.write_text(engine.read_text() + "\nEDITED = True\n")
    active, reason, files, err = _probe(root)
    assert not active
    assert reason == "stale: sdex.matching.engine changed since the build"
    assert _all_source(files), files  # all of them, not only the edited one
    assert "RuntimeWarning" in err and "nativebuild" in err
    check = "import sdex.matching.engine as e; print(e.EDITED)"
    out = subprocess.run(
        [sys.executable, "-c", check], cwd=root, env=_env(root), capture_output=True, text=True
    )
    assert out.stdout.strip() == "True"


@pytest.mark.parametrize("dependency", ["sdex.fillmath", "sdex.book.types"])
def test_edited_dependency_makes_the_build_stale(
    built_tree: Path, tmp_path: Path, dependency: str
) -> None:
    """An uncompiled module the build was type-checked against (and may have inlined
    constants of) is part of the build too: an edit to it falls back to the source."""
    root = _variant(built_tree, tmp_path)
    source = root.joinpath(*dependency.split(".")).with_suffix(".py")
    source.write_text(source.read_text() + "\nEDITED = True\n")
    active, reason, files, err = _probe(root)
    assert not active
    assert reason == f"stale: {dependency} changed since the build"
    assert _all_source(files), files
    assert "RuntimeWarning" in err and "nativebuild" in err


def _sdex_imports(module: str) -> set[str]:
    """The ``sdex`` modules (not packages) ``module`` imports, at module level or not."""
    tree = ast.parse(native.source_path(module).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        out.update(
            n for n in names if n.split(".")[0] == "sdex" and native.source_path(n).is_file()
        )
    return out


def test_dependencies_are_every_uncompiled_sdex_module_imported() -> None:
    """``DEPENDENCIES`` is the closure of the compiled modules' ``sdex`` imports, less them."""
    seen: set[str] = set()
    todo = list(native.COMPILED)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_sdex_imports(module))
    assert set(native.DEPENDENCIES) == seen - set(native.COMPILED)
    assert len(native.DEPENDENCIES) == len(set(native.DEPENDENCIES))
    assert native.source_hashes().keys() == {*native.COMPILED, *native.DEPENDENCIES}


def test_missing_or_foreign_extension_falls_back(built_tree: Path, tmp_path: Path) -> None:
    root = _variant(built_tree, tmp_path)
    book = root / "sdex" / "book"
    so = next(book.glob("funds.*.so"))
    foreign = book / so.name.replace("funds", "extra")
    shutil.copyfile(so, foreign)
    active, reason, files, err = _probe(root)
    assert not active and reason == "extension modules not of this build: " + foreign.name
    assert _all_source(files) and "RuntimeWarning" in err
    foreign.unlink()
    so.unlink()
    active, reason, files, err = _probe(root)
    assert not active and reason == "the build is incomplete"
    assert _all_source(files) and "RuntimeWarning" in err


TRACEBACK = (
    "import traceback\n"
    "from sdex.book import native\n"
    "from sdex.order import Order\n"
    "print(native.ACTIVE)\n"
    "try:\n"
    "    Order.from_json({})\n"
    "except ValueError:\n"
    "    print(traceback.format_exc())\n"
)


def test_a_compiled_frame_shows_its_source_line_from_any_directory(
    built_tree: Path, tmp_path: Path
) -> None:
    """A traceback through compiled code names each frame's source as mypyc was given it
    (``sdex/order.py``, from the tree's root): run from any other directory, its line was
    blank (``linecache`` asked the extension module's loader for the source: None). The
    compiled modules' loader reads it from the ``.py`` beside them, which the stamp holds
    to be the source compiled (``sdex.book.native``)."""
    out = subprocess.run(
        [sys.executable, "-c", TRACEBACK],
        cwd=tmp_path,
        env=_env(built_tree),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.startswith("True\n"), out  # (the build ran)
    frame = re.search(r'File "(sdex/order\.py)", line (\d+), in from_json\n(.*)\n', out)
    assert frame is not None, out
    source = (built_tree / "sdex" / "order.py").read_text().splitlines()[int(frame[2]) - 1]
    assert frame[3].strip() == source.strip() != "", out


def test_the_makefile_rebuilds_when_a_dependency_changes() -> None:
    """``make``'s build stamp depends on every module the guard hashes (else an edit there
    would leave the source running, with a warning, until someone rebuilt by hand)."""
    text = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    deps = text.split("NATIVE_DEPS :=", 1)[1].split("\nbuild/", 1)[0].replace("\\\n", " ")
    listed = {d for d in deps.split() if d.endswith(".py")}
    outside = {
        m.replace(".", "/") + ".py"
        for m in (*native.DEPENDENCIES, *native.LONE)  # compiled outside the two packages
        if not m.startswith(("sdex.book.", "sdex.matching."))
    }
    assert listed == outside
