"""Where one ``sdex node`` start goes, from the spawn to ``/health`` answering 200, in this tree
and (alternated, run for run) a reference tree.

Each start is ``python -m sdex.cli node`` as the tests' ``NodeProcess`` runs it (fresh database,
a real Hardhat devnet: ``sdex.devnet.Devnet``), run in the tree itself. Figures per start:
``listening`` (spawn to the ``listening on`` line on stdout), ``healthy`` (spawn to the first
200 of ``/health``, polled every 10 ms), the process's CPU at ``healthy`` (``/proc``), and the
offsets from the spawn of the node's own start-up log lines (``--log-level debug``; their
``asctime`` has millisecond resolution): the first line (after the imports, the CLI's set-up
and ``Node.prepare``'s chain checks), ``port N open``, ``node listening``; and ``head_saved``,
when the watcher saved the chain's head of the spawn (what the tests' ``node_up`` waits for).
Medians over ``--runs`` starts a tree; the machine is shared, so read the ratios. Both trees
``compileall``ed first where ``PYTHONDONTWRITEBYTECODE`` is set (else each start compiles).

    .venv/bin/python bench/node_start.py --reference /work/main --runs 7
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from sdex.devnet import Devnet, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
MARKS = {"first_log": "", "port_open": "port ", "node_listening": "node listening on"}
"""Log lines whose offsets are kept: the key, and what the line's message begins with."""


def log_offsets(log: str, t0: float) -> dict[str, float]:
    """Each ``MARKS`` line's offset (s) from ``t0`` (``time.time()`` at the spawn)."""
    out: dict[str, float] = {}
    for line in log.splitlines():
        try:
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        except ValueError:
            continue
        message = line.split(" ", 4)[-1] if line.count(" ") >= 4 else ""
        for key, head in MARKS.items():
            if key not in out and message.startswith(head):
                out[key] = round(stamp - t0, 3)
    return out


def cpu_of(pid: int) -> float:
    """The user and system CPU seconds process ``pid`` has used so far."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / TICK


def saved_head(db: Path) -> int:
    """The block number of the head the node's watcher saved (-1: none yet)."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='mirror_head'").fetchone()
    return -1 if row is None else int(json.loads(row[0])[0])


def start_once(tree: Path, deployment: Path, key: str, tmp: Path, rpc: str) -> dict[str, float]:
    run = Path(tempfile.mkdtemp(dir=tmp))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "sdex.cli", "node", "--port", str(port), "--host", "127.0.0.1",
           "--deployment", str(deployment), "--key", key, "--db", str(run / "n.db"),
           "--fee-bps", "0", "--admin", "--log-level", "debug"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(tree)}
    row: dict[str, float] = {}
    top = int(requests.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"},
                            timeout=30).json()["result"], 16)  # fmt: skip
    with (run / "out").open("wb") as out, (run / "err").open("wb") as err:
        t0, wall0 = time.perf_counter(), time.time()
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=out, stderr=err)
    try:
        with requests.Session() as s:
            while "healthy" not in row:
                if proc.poll() is not None:
                    raise RuntimeError(f"node exited {proc.returncode}: see {run}")
                if "listening" not in row and b"listening on" in (run / "out").read_bytes():
                    row["listening"] = round(time.perf_counter() - t0, 3)
                try:
                    if s.get(url + "/health", timeout=1.0).status_code == 200:
                        row["healthy"] = round(time.perf_counter() - t0, 3)
                        row["cpu_at_healthy"] = cpu_of(proc.pid)
                except requests.RequestException:
                    pass
                time.sleep(0.01)
            while b"listening on" not in (run / "out").read_bytes():  # (printed after ready)
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"node said no 'listening on': see {run}")
                time.sleep(0.01)
            row.setdefault("listening", round(time.perf_counter() - t0, 3))
            while saved_head(run / "n.db") < top:  # (what ``tests.nodeutil.node_up`` awaits)
                if proc.poll() is not None or time.perf_counter() - t0 > 120:
                    raise RuntimeError(f"node saved no head at {top}: see {run}")
                time.sleep(0.01)
            row["head_saved"] = round(time.perf_counter() - t0, 3)
    finally:
        proc.terminate()
        proc.wait(30)
    row.update(log_offsets((run / "err").read_text(errors="replace"), wall0))
    shutil.rmtree(run, ignore_errors=True)
    return row


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = sorted({k for r in rows for k in r})
    return {k: round(statistics.median(r[k] for r in rows if k in r), 3) for k in keys}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", type=Path, default=None, help="another tree (alternated)")
    ap.add_argument("--runs", type=int, default=7)
    opts = ap.parse_args()
    trees = {"this": ROOT} | ({"reference": opts.reference} if opts.reference else {})
    tmp = Path(tempfile.mkdtemp(prefix="node-start-"))
    net = Devnet(log_path=tmp / "chain.log", accounts=20)
    net.start()
    got: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    try:
        assert net.deployment is not None
        dep = tmp / "devnet.json"
        net.deployment.save(dep)
        key = net.deployment.accounts[19].key
        load = [os.getloadavg()[0]]
        for _ in range(opts.runs):
            for name, tree in trees.items():  # (alternated: the load falls on both)
                got[name].append(start_once(tree, dep, key, tmp, net.deployment.rpc))
        load.append(os.getloadavg()[0])
    finally:
        net.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, object] = {"runs": opts.runs, "load_1min": [round(x, 1) for x in load]}
    out["medians"] = {name: medians(rows) for name, rows in got.items()}
    if opts.reference:
        m = out["medians"]
        assert isinstance(m, dict)
        out["healthy_ratio"] = round(m["this"]["healthy"] / m["reference"]["healthy"], 3)
    out["starts"] = got
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
