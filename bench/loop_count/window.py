"""Loop turns, tasks and callbacks per order per node in a ``bench/gossip.py`` run's measured
window, from ``sitecustomize``'s files: ``window.py RESULT.json DIR``. Prints JSON."""

from __future__ import annotations

import bisect
import json
import sys
from pathlib import Path
from typing import Any


def at(rows: list[list[float]], t: float) -> list[float]:
    """The counts at Unix time ``t``, interpolated between the samples around it."""
    i = min(max(bisect.bisect_left([x[0] for x in rows], t), 1), len(rows) - 1)
    (ta, *a), (tb, *b) = rows[i - 1], rows[i]
    f = (t - ta) / (tb - ta) if tb > ta else 0.0
    return [x + f * (y - x) for x, y in zip(a, b, strict=True)]


def main() -> None:
    run: dict[str, Any] = json.loads(Path(sys.argv[1]).read_text())["runs"][0]
    cpu = run["cpu_cores_used"]
    t0, t1 = cpu["window_start_unix"], cpu["window_end_unix"]
    totals = [0.0, 0.0, 0.0]
    nodes = 0
    for f in Path(sys.argv[2]).iterdir():
        rows = [[float(v) for v in x.split()] for x in f.read_text().splitlines() if x.strip()]
        if len(rows) < 2 or rows[0][0] > t0 or rows[-1][0] < t1:
            continue
        nodes += 1
        for k, (a, b) in enumerate(zip(at(rows, t0), at(rows, t1), strict=True)):
            totals[k] += b - a
    per = run["offered"]["orders_accepted"] * run["nodes"]
    names = ("turns", "tasks", "callbacks")
    out = {f"{n}_per_order_node": round(v / per, 2) for n, v in zip(names, totals, strict=True)}
    print(json.dumps({"nodes_counted": nodes, **out}))


if __name__ == "__main__":
    main()
