#!/usr/bin/env python3
"""The compiled book and engine of this tree against a reference tree (``--ref``, e.g. main,
its compiled book built), in one run: ``bench/matching.py`` (both workloads: ``project``
and ``crossing``) run in a child process per tree, in turn, the order swapped pair by pair
(A/B, B/A, ...), so that the load of the shared machine falls on both alike.

Per tree and workload: each run's operations per second of ours, and its ratio to the bare
reference book run in lockstep in the same child (``bench/matching.py``'s ``ratio``: the
machine's load cancels within a run); medians, and new / ref of both. Prints JSON.
A split of the compiled modules (split62: ``sdex.book.queue`` out of ``levels``,
``sdex.matching.walk`` out of ``engine``) must leave these unchanged.

``--callgrind``: instead, each tree's operations counted by valgrind's callgrind (the same
workloads, smaller, ours only, in a child per tree): instructions (``Ir``) and L1
instruction-cache misses (``I1mr``, its cache simulation) inside the engine's and the book's
entry points that the workload calls (``submit``, ``confirm``, ``remove``, ``in``), per
operation. Those do not move with the machine's load (a shared machine's wall clock does, by
tens of percent between runs): what a split across compiled modules could cost in calls and
in code layout.

Run: PYTHONPATH=$PWD .venv/bin/python bench/split62_book.py --ref /work/main [--pairs 4]
[--callgrind]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("project", "crossing")


def run(tree: Path, ops: int, resting: int) -> dict[str, Any]:
    """One run of ``bench/matching.py`` of ``tree``, importing that tree's ``sdex``."""
    env = {k: v for k, v in os.environ.items() if k != "SDEX_PURE"}
    env["PYTHONPATH"] = str(tree)
    args = ["--ops", str(ops), "--resting", str(resting), "--seed", "1"]
    out = subprocess.run(
        [sys.executable, str(tree / "bench" / "matching.py"), *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    got: dict[str, Any] = json.loads(out.stdout)
    if got.get("compiled") is not True:
        raise SystemExit(f"{tree}: the compiled book is not in use")
    return got


ENTRY_POINTS = (
    "CPyPy_engine___MatchingEngine___submit",
    "CPyPy_settle___Settling___confirm",
    "CPyPy_bookcore___BookCore___remove",
    "CPyPy_bookbase___BookBase_____contains__",
)
"""The compiled functions the workload calls from Python (mypyc's wrappers): callgrind counts
what runs inside them."""


def child(workload: str, resting: int, ops: int) -> None:
    """Run ``workload`` on our book only (``bench/matching.py``'s, of this process's tree)."""
    sys.path.insert(0, str(Path(os.environ["PYTHONPATH"]) / "bench"))
    import matching  # type: ignore[import-not-found]

    make = matching.project_workload if workload == "project" else matching.crossing_workload
    rest, steps = make(resting, ops, 1)
    _, step = matching.ours(rest)
    for op in steps:
        step(op)


def callgrind(tree: Path, workload: str, resting: int, ops: int) -> dict[str, float]:
    """Callgrind's totals of ``ENTRY_POINTS`` for one run of ``workload`` on ``tree``."""
    env = {k: v for k, v in os.environ.items() if k != "SDEX_PURE"}
    env["PYTHONPATH"] = str(tree)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--cache-sim=yes",
                "--collect-atstart=no",
                *(f"--toggle-collect={f}" for f in ENTRY_POINTS),
                f"--callgrind-out-file={out}",
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                workload,
                str(resting),
                str(ops),
            ],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=True,
        )
        events: list[str] = []
        totals: list[int] = []
        for line in out.read_text().splitlines():
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("totals:") or line.startswith("summary:"):
                totals = [int(x) for x in line.split()[1:]]
    got = dict(zip(events, totals, strict=False))
    return {
        "Ir_per_op": round(got["Ir"] / (resting + ops), 1),
        "I1mr_per_op": round(got["I1mr"] / (resting + ops), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", type=Path, help="the reference tree (e.g. main): required")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--resting", type=int, default=50_000)
    ap.add_argument("--callgrind", action="store_true", help="count instructions instead")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        workload, resting, ops = args.child
        child(workload, int(resting), int(ops))
        return
    if args.ref is None:
        ap.error("--ref is required")
    if args.callgrind:
        counted: dict[str, Any] = {"ops": args.ops, "resting": args.resting}
        for w in WORKLOADS:
            row = {
                name: callgrind(tree, w, args.resting, args.ops)
                for name, tree in (("new", ROOT), ("ref", args.ref.resolve()))
            }
            row["new_over_ref_Ir"] = round(row["new"]["Ir_per_op"] / row["ref"]["Ir_per_op"], 4)
            row["new_over_ref_I1mr"] = round(
                row["new"]["I1mr_per_op"] / row["ref"]["I1mr_per_op"], 4
            )
            counted[w] = row
        print(json.dumps(counted, indent=2))
        return
    trees = {"new": ROOT, "ref": args.ref.resolve()}
    runs: dict[str, list[dict[str, Any]]] = {"new": [], "ref": []}
    for i in range(args.pairs):
        order = ("new", "ref") if i % 2 == 0 else ("ref", "new")
        for name in order:
            runs[name].append(run(trees[name], args.ops, args.resting))
    result: dict[str, Any] = {"pairs": args.pairs, "ops": args.ops, "resting": args.resting}
    for w in WORKLOADS:
        row: dict[str, Any] = {}
        for name in ("new", "ref"):
            row[name] = {
                "ops_per_s": [r[w]["ours_ops_per_s"] for r in runs[name]],
                "ratio_to_bare": [r[w]["ratio"] for r in runs[name]],
            }
            row[name]["median_ops_per_s"] = statistics.median(row[name]["ops_per_s"])
            row[name]["median_ratio_to_bare"] = statistics.median(row[name]["ratio_to_bare"])
        row["new_over_ref_ops"] = round(
            row["new"]["median_ops_per_s"] / row["ref"]["median_ops_per_s"], 3
        )
        row["new_over_ref_ratio"] = round(
            row["new"]["median_ratio_to_bare"] / row["ref"]["median_ratio_to_bare"], 3
        )
        result[w] = row
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
