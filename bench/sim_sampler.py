"""The run-queue sampler's own cost (sim23): CPU per sample of ``bench/runqueue.py``'s
sampler process against a reference version of it (``--old``, e.g. main's before sim23, which
read every process's state but no CPU deltas, node ``schedstat`` or ``/proc/stat``), in the
same run, alternated A/B, several pairs; JSON on stdout.

    git show main:bench/runqueue.py > /tmp/runqueue_old.py
    python bench/sim_sampler.py --old /tmp/runqueue_old.py --seconds 5 --pairs 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(module: ModuleType, seconds: float, nodes: list[int]) -> dict[str, float]:
    """The sampler's CPU per sample over ``seconds`` (its ready line's first sample left out:
    the CPU is read from its start to just before it is stopped)."""
    queue = module.RunQueue(nodes)
    c0 = cpu_seconds(queue.pid)
    time.sleep(seconds)  # (a measured window: nothing to wait for but the clock)
    c1 = cpu_seconds(queue.pid)
    queue.stop()
    samples = max(1, len(queue.samples))
    return {"cpu_ms_per_sample": round(1000 * (c1 - c0) / samples, 3), "samples": samples}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--old", type=Path, required=True, help="the reference runqueue.py")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, str(HERE))
    new, old = load(HERE / "runqueue.py", "runqueue_new"), load(args.old, "runqueue_old")
    nodes = [os.getpid()]  # (one "node": this process, so the node reads are exercised)
    pairs: list[dict[str, Any]] = []
    for k in range(args.pairs):
        order = [("new", new), ("old", old)] if k % 2 == 0 else [("old", old), ("new", new)]
        got = {name: one(module, args.seconds, nodes) for name, module in order}
        ratio = got["new"]["cpu_ms_per_sample"] / max(1e-9, got["old"]["cpu_ms_per_sample"])
        pairs.append(got | {"new_over_old": round(ratio, 3)})
    ratios = [p["new_over_old"] for p in pairs]
    avg = Path("/proc/loadavg").read_text().split()[:3]
    out = {"pairs": pairs, "new_over_old_median": statistics.median(ratios),
           "spread": [min(ratios), max(ratios)], "loadavg": avg}  # fmt: skip
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
