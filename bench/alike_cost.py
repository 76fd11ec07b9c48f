"""What ``sdex.gossip.alike``'s ``Pushers.forgive`` costs a charge (one a push's intake:
``gate.intake_spent``), in several trees side by side (stand91: stand89's standing rule
against the tree before it).

Each ``--tree NAME=DIR`` loads ``DIR/sdex/gossip/alike.py`` on its own; every tree is fed the
same random charges (``--charges`` a run; pushers drawn from ``--pushers`` of them, each
charge 0.1-50 tokens, 0-10 ms after the last, on a simulated clock) with no pusher having
standing and, where the tree takes ``traded``, with half of them having it. The trees' runs
are interleaved, ``--reps`` times; a tree's figure is its least time a charge (microseconds),
its verdicts' count forgiven beside it (the same charges give the same verdicts in every tree
when no pusher has standing). Prints JSON."""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import random
import time
from types import ModuleType
from typing import Any


def load(name: str, root: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"alike_{name}", f"{root}/sdex/gossip/alike.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(module: ModuleType, charges: list[tuple[str, float, float, bool]]) -> tuple[float, int]:
    """(seconds a charge, charges forgiven) over one pass."""
    now = [0.0]
    pushers = module.Pushers(clock=lambda: now[0])
    forgive = pushers.forgive
    takes = "traded" in inspect.signature(forgive).parameters
    forgiven = 0
    start = time.perf_counter()
    if takes:
        for p, tokens, gap, traded in charges:
            now[0] += gap
            forgiven += forgive(p, tokens, traded)
    else:
        for p, tokens, gap, _traded in charges:
            now[0] += gap
            forgiven += forgive(p, tokens)
    return (time.perf_counter() - start) / len(charges), forgiven


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", action="append", required=True, help="NAME=DIR, one a tree")
    ap.add_argument("--pushers", type=int, nargs="+", default=[4, 11, 32])
    ap.add_argument("--charges", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=15)
    a = ap.parse_args()
    trees = {name: load(name, root) for name, root in (t.split("=", 1) for t in a.tree)}
    out: dict[str, Any] = {"args": vars(a), "us_a_charge": {}}
    for n in a.pushers:
        for standing in ("none", "half"):
            rng = random.Random(n)
            held = {f"p{i}": standing == "half" and i % 2 == 0 for i in range(n)}
            charges = [
                (p, rng.uniform(0.1, 50), rng.uniform(0, 0.01), held[p])
                for p in (f"p{rng.randrange(n)}" for _ in range(a.charges))
            ]
            best = {name: float("inf") for name in trees}
            forgiven = {}
            for _ in range(a.reps):
                for name, module in trees.items():
                    seconds, forgiven[name] = run(module, charges)
                    best[name] = min(best[name], seconds)
            out["us_a_charge"][f"{n} pushers, standing {standing}"] = {
                name: {"us": round(best[name] * 1e6, 2), "forgiven": forgiven[name]}
                for name in trees
            }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
