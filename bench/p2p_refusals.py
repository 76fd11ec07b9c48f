"""A flood of junk ``/p2p/`` requests against a real ``sdex node``: what it costs the node.

Starts one devnet (this tree), then for each tree (``--ref`` and this one, alternated, a fresh
node each run) an ``sdex node`` process, and floods its ``/p2p/orders`` from ``--attackers``
processes, each from its own loopback address (127.0.0.2, ...) with ``--conns`` keep-alive
connections, posting ``--body`` random bytes with made-up signature headers (a current time,
a random body hash and 65-byte signature). Meanwhile ``/health`` is asked every 50 ms from
127.0.0.1. Prints JSON per run: requests/s answered (by status), ``/health`` p50/p99/max,
and the node's CPU per refused request (from ``/proc``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ROOT, machine

from sdex.deployment import Deployment
from sdex.devnet import free_port
from sdex.node.process import NodeProcess


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _signature(formed: bool) -> str:
    """65 random bytes, or (``formed``) ones that pass every cheap check: v 27, s low, so
    that the node must try to recover a key."""
    if not formed:
        return "0x" + secrets.token_hex(65)
    r = secrets.randbelow(2**255) + 1
    s = secrets.randbelow(2**254) + 1
    return "0x" + (r.to_bytes(32, "big") + s.to_bytes(32, "big") + b"\x1b").hex()


async def _attack(
    url: str, source: str, conns: int, body: int, until: float, formed: bool
) -> dict[str, int]:
    counts: dict[str, int] = {}
    junk = secrets.token_bytes(body)
    connector = aiohttp.TCPConnector(limit=conns, local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as s:

        async def one() -> None:
            while time.time() < until:
                headers = {
                    "X-SDEX-Node": f"http://{source}:9/",
                    "X-SDEX-Time": str(int(time.time() * 1000)),
                    "X-SDEX-Body": "0x" + secrets.token_hex(32),
                    "X-SDEX-Signature": _signature(formed),
                    "Content-Type": "application/json",
                }
                try:
                    async with s.post(url + "/p2p/orders", data=junk, headers=headers) as r:
                        await r.read()
                        key = str(r.status)
                except (aiohttp.ClientError, OSError):
                    key = "error"
                counts[key] = counts.get(key, 0) + 1

        await asyncio.gather(*(one() for _ in range(conns)))
    return counts


def _attacker(
    url: str, source: str, conns: int, body: int, until: float, formed: bool, q: Any
) -> None:
    os.nice(19)  # (the attacker would be another machine: the node's own cost shows)
    q.put(asyncio.run(_attack(url, source, conns, body, until, formed)))


async def _health(url: str, until: float) -> list[float]:
    times: list[float] = []
    async with aiohttp.ClientSession() as s:
        while time.time() < until:
            began = time.perf_counter()
            async with s.get(url + "/health") as r:
                await r.read()
            times.append((time.perf_counter() - began) * 1000)
            await asyncio.sleep(0.05)
    return times


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p * len(xs)))], 1) if xs else -1.0


def run(tree: Path, deployment: Path, key: bytes, args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="p2p27-", dir=deployment.parent))  # (removed with it)
    os.environ["PYTHONPATH"] = str(tree)
    node = NodeProcess(port, deployment, key, work / "node.db", work / "node.log")
    node.cmd[0] = str(tree / ".venv/bin/python")
    here = os.getcwd()
    os.chdir(tree)  # (``python -m`` puts the working directory first on the path)
    try:
        node.start()
    finally:
        os.chdir(here)
    node.wait_ready()
    assert node.proc is not None
    pid = node.proc.pid
    try:
        idle0, i0 = _cpu_seconds(pid), time.time()
        quiet = asyncio.run(_health(node.url, time.time() + 3))
        idle_cores = (_cpu_seconds(pid) - idle0) / (time.time() - i0)
        cpu0, t0 = _cpu_seconds(pid), time.time()
        until = t0 + args.seconds
        q: Any = multiprocessing.Queue()
        procs = [
            multiprocessing.Process(
                target=_attacker,
                args=(node.url, f"127.0.0.{2 + i}", args.conns, args.body, until, args.formed, q),
            )
            for i in range(args.attackers)
        ]
        for p in procs:
            p.start()
        spy = None
        if args.profile:
            spy = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid),
                 "-r", "200", "-d", str(int(args.seconds) - 1),
                 "-f", "raw", "-o", str(args.profile), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        flooded = asyncio.run(_health(node.url, until))
        counts: dict[str, int] = {}
        for _ in procs:
            for k, v in q.get(timeout=60).items():
                counts[k] = counts.get(k, 0) + v
        for p in procs:
            p.join(30)
        cpu = _cpu_seconds(pid) - cpu0
        if spy is not None:
            spy.wait(60)
        span = time.time() - t0
        total = sum(counts.values())
        return {
            "tree": str(tree),
            "formed": args.formed,
            "requests": counts,
            "requests_per_s": round(total / args.seconds, 1),
            "health_quiet_p50_ms": _pct(quiet, 0.5),
            "health_p50_ms": _pct(flooded, 0.5),
            "health_p99_ms": _pct(flooded, 0.99),
            "health_max_ms": _pct(flooded, 1.0),
            "node_cpu_s": round(cpu, 2),
            "node_cores": round(cpu / span, 2),
            "node_cpu_us_per_request": round(cpu / max(1, total) * 1e6, 1),
            "node_idle_cores": round(idle_cores, 3),
            "node_cpu_us_per_request_net": round(
                (cpu - idle_cores * span) / max(1, total) * 1e6, 1
            ),
            "log_lines": sum(1 for _ in (work / "node.log").open("rb")),
            "sdex": subprocess.run(
                [str(tree / ".venv/bin/python"), "-c", "import sdex; print(sdex.__file__)"],
                cwd=tree,
                capture_output=True,
                text=True,
            ).stdout.strip(),
        }
    finally:
        node.proc.send_signal(signal.SIGTERM)
        try:
            node.proc.wait(30)
        except subprocess.TimeoutExpired:
            node.proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ref", type=Path, action="append", default=[], help="another tree")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--attackers", type=int, default=8)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--body", type=int, default=60_000)
    ap.add_argument("--formed", action="store_true", help="signatures that pass cheap checks")
    ap.add_argument("--profile", type=Path, help="py-spy's raw samples of the node, to this file")
    args = ap.parse_args()
    trees = [r.resolve() for r in args.ref] + [ROOT]
    work = Path(tempfile.mkdtemp(prefix="p2p27-devnet-"))
    deployment = work / "devnet.json"
    rpc_port = free_port()
    devnet = subprocess.Popen(
        [sys.executable, "-m", "sdex", "devnet", "--port", str(rpc_port),
         "--deployment", str(deployment)],
        stdout=(work / "devnet.log").open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not deployment.exists():
            if devnet.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"devnet did not start: see {work / 'devnet.log'}")
            time.sleep(0.2)
        time.sleep(0.5)
        dep = Deployment.load(deployment)
        key = bytes.fromhex(dep.accounts[19].key.removeprefix("0x"))
        runs = []
        for r in range(args.repeat):
            order = trees[r % len(trees) :] + trees[: r % len(trees)]
            for tree in order:
                result = run(tree, deployment, key, args)
                print(json.dumps(result), flush=True)
                runs.append(result)
        print(
            json.dumps(
                {
                    "machine": machine(),
                    "args": vars(args) | {"ref": None, "profile": None},
                    "runs": runs,
                }
            )
        )
    finally:
        devnet.send_signal(signal.SIGTERM)
        try:
            devnet.wait(30)
        except subprocess.TimeoutExpired:
            devnet.kill()
    shutil.rmtree(work, ignore_errors=True)  # (kept when the run raised: its logs)


if __name__ == "__main__":
    main()
