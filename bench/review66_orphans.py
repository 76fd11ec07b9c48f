"""A kept cancel taken when the kept cancels are full (``sdex.node.orphans.OrphanCancels``):
20,000 counts of one each (a flood spread over as many host groups), then 200 more kept.
Run on this tree and on a reference tree (``--ref``, e.g. /work/main), alternated; prints
JSON: ms a keep for each, and their ratio."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import os, time
from sdex.node.orphans import OrphanCancels
oc = OrphanCancels()
sig, now = os.urandom(65), time.time()
for i in range(20000):
    oc.keep(os.urandom(32), sig, f"s{i}", f"strangers:10.0.{i >> 8}.{i & 255}", now)
t = time.perf_counter()
for i in range(200):
    oc.keep(os.urandom(32), sig, f"x{i}", f"strangers:11.0.{i >> 8}.{i & 255}", now)
print((time.perf_counter() - t) / 200 * 1e3)
"""


def once(tree: str) -> float:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run(  # (cwd: "-c" puts it first on the path)
        [sys.executable, "-c", PROBE], env=env, cwd=tree, check=True, capture_output=True
    )
    return float(out.stdout)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--ref", default="/work/main")
    p.add_argument("--pairs", type=int, default=3)
    a = p.parse_args()
    this: list[float] = []
    ref: list[float] = []
    for _ in range(a.pairs):
        ref.append(once(a.ref))
        this.append(once(str(ROOT)))
    this.sort()
    ref.sort()
    mid = a.pairs // 2
    print(json.dumps({"keep_ms_this": this, "keep_ms_ref": ref, "ratio": this[mid] / ref[mid]}))


if __name__ == "__main__":
    main()
