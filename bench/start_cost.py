"""CPU and wall time of starting ``sdex`` processes, this tree against a reference tree.

Each case is a fresh interpreter, as the test suite starts them (``python -m sdex.cli ...``,
run in the tree itself: ``-m`` and ``-c`` put the working directory first on sys.path):
``order --help`` and ``book`` (against a closed loopback port: the imports and the command's
set-up, then a refused connection), the imports of ``sdex node`` (``sdex.cli`` and
``sdex.node.main``, what a node loads before its start-up work), and ``sdex node`` itself on
a real devnet (``sdex.devnet.Devnet``), fresh database each time, from exec to its
``listening on`` line (CPU read from ``/proc/PID/stat`` at that line; then SIGTERM). Runs
alternate A/B; the figures are medians of user+sys CPU and wall time.

    PYTHONPATH=$PWD .venv/bin/python bench/start_cost.py --reference /work/main --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sdex.devnet import Devnet, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def cases() -> dict[str, list[str]]:
    url = f"http://127.0.0.1:{closed_port()}"
    return {
        "order --help": ["-m", "sdex.cli", "order", "--help"],
        "book (refused)": ["-m", "sdex.cli", "book", "--node", url],
        "node imports": ["-c", "import sdex.cli, sdex.node.main"],
        "cli imports": ["-c", "import sdex.cli"],
        "version": ["-m", "sdex.cli", "--version"],
    }


def run_once(tree: Path, args: list[str]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=tree, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def node_start(tree: Path, deployment: Path, key: str, tmp: Path) -> tuple[float, float]:
    """One ``sdex node`` from exec to ``listening on``: (CPU, wall) seconds."""
    db = Path(tempfile.mkdtemp(dir=tmp)) / "n.db"
    cmd = [sys.executable, "-m", "sdex.cli", "node", "--port", str(free_port()),
           "--deployment", str(deployment), "--key", key, "--db", str(db)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(b"listening on"):
                wall = time.perf_counter() - t0
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / TICK, wall
        raise RuntimeError(f"node exited {proc.wait()} before listening")
    finally:
        proc.terminate()
        proc.wait(30)


def medians(got: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    row: dict[str, float] = {}
    for key, runs in got.items():
        row[f"{key}_cpu_s"] = round(statistics.median(c for c, _ in runs), 3)
        row[f"{key}_wall_s"] = round(statistics.median(w for _, w in runs), 3)
    row["cpu_ratio"] = round(row["this_cpu_s"] / row["reference_cpu_s"], 3)
    row["wall_ratio"] = round(row["this_wall_s"] / row["reference_wall_s"], 3)
    return row


def alternate(
    trees: dict[str, Path], runs: int, once: Callable[[Path], tuple[float, float]]
) -> dict[str, float]:
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in trees}
    for _ in range(runs):
        for key, tree in trees.items():  # (alternated: load falls on both sides)
            got[key].append(once(tree))
    return medians(got)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", type=Path, default=Path("/work/main"))
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()
    trees = {"this": ROOT, "reference": opts.reference}
    out: dict[str, dict[str, float]] = {}
    for name, args in cases().items():
        out[name] = alternate(trees, opts.runs, partial(run_once, args=args))
    tmp = Path(tempfile.mkdtemp(prefix="start-cost-"))
    net = Devnet(log_path=tmp / "chain.log", accounts=20)
    net.start()
    try:
        assert net.deployment is not None
        dep = tmp / "devnet.json"
        net.deployment.save(dep)
        key = net.deployment.accounts[19].key
        out["node to listening"] = alternate(
            trees, opts.runs, lambda tree: node_start(tree, dep, key, tmp)
        )
    finally:
        net.stop()
    shutil.rmtree(tmp, ignore_errors=True)  # (kept when the run raised: its logs)
    print(json.dumps({"runs": opts.runs, "cases": out}, indent=2))


if __name__ == "__main__":
    main()
