"""Idle HTTP connections against one node: what the node holds, its memory, and a fresh
client's latency, with ``--conns`` idle sockets open (never sending a byte).

For each ``--root`` (checkouts, alternated ``--pairs`` times, each node its own process on
one devnet) and each scenario: ``one`` (all from 127.0.0.1, one attacker) and ``many`` (from
``--addresses`` loopback addresses 127.0.1.x, many attackers; all of 127/8 is loopback on
Linux): the node's RSS and socket descriptors before and after, how many of the idle
sockets it closed, and the median and p99 of ``--requests`` sequential ``GET /health`` and
``GET /v1/orderbook`` on a new keep-alive client from 127.0.0.1 while they are open. Prints
JSON. The node process is stopped by its own PID.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import requests  # noqa: E402
from benchlib import machine  # noqa: E402

from sdex.devnet import Devnet  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def sockets(pid: int) -> int:
    n = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            n += os.readlink(fd).startswith("socket:")
    return n


def start_node(root: Path, deployment: Path, key: str, db: Path, log: Path) -> tuple[Any, str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(root)}
    cmd = [sys.executable, "-m", "sdex.cli", "node", "--port", str(port), "--deployment",
           str(deployment), "--key", key, "--db", str(db)]  # fmt: skip
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"node exited; see {log}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        if time.monotonic() > deadline:
            proc.kill()
            raise TimeoutError("node not ready")
        time.sleep(0.1)


async def latency(url: str, paths: list[str], n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    async with aiohttp.ClientSession() as s:
        for path in paths:
            times = []
            for _ in range(n):
                t = time.perf_counter()
                async with s.get(url + path) as r:
                    await r.read()
                    assert r.status == 200, r.status
                times.append((time.perf_counter() - t) * 1e3)
            times.sort()
            name = path.split("?")[0]
            out[f"{name} median ms"] = round(statistics.median(times), 3)
            out[f"{name} p99 ms"] = round(times[int(0.99 * (len(times) - 1))], 3)
    return out


async def open_idle(port: int, ips: list[str], n: int) -> list[asyncio.StreamWriter]:
    writers: list[asyncio.StreamWriter] = []

    async def one(ip: str) -> None:
        with contextlib.suppress(OSError):
            _, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(ip, 0))
            writers.append(w)

    for i in range(0, n, 200):
        await asyncio.gather(*(one(ips[k % len(ips)]) for k in range(i, min(n, i + 200))))
    return writers


async def scenario(proc: Any, url: str, ips: list[str], args: Any, paths: list[str]) -> Any:
    pid = proc.pid
    port = int(url.rsplit(":", 1)[1])
    before = {"rss_mib": round(rss_kib(pid) / 1024, 1), "sockets": sockets(pid)}
    t = time.perf_counter()
    writers = await open_idle(port, ips, args.conns)
    opened = time.perf_counter() - t
    await asyncio.sleep(1.0)  # (the node accepts and settles its books)
    held = {"rss_mib": round(rss_kib(pid) / 1024, 1), "sockets": sockets(pid)}
    lat = await latency(url, paths, args.requests)
    closed_by_node = sum(1 for w in writers if w.transport.is_closing() or _eof(w))
    for w in writers:
        w.close()
    return {
        "opened": len(writers),
        "open_seconds": round(opened, 2),
        "before": before,
        "held": held,
        "idle_closed_by_node": closed_by_node,
        **lat,
    }


def _eof(w: asyncio.StreamWriter) -> bool:
    reader = getattr(w, "_reader", None)  # (the writer's reader saw the node's FIN)
    return bool(reader is not None and reader.at_eof())


async def run(args: Any) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="idle-conns-"))
    net = Devnet(log_path=tmp / "chain.log", accounts=20)
    net.start()
    results: list[dict[str, Any]] = []
    try:
        assert net.deployment is not None
        dep = tmp / "devnet.json"
        net.deployment.save(dep)
        key = net.deployment.accounts[19].key
        d = net.deployment
        weth, usdc = d.token("WETH").address, d.token("USDC").address
        paths = ["/health", f"/v1/orderbook?baseToken={weth}&quoteToken={usdc}"]
        many = [f"127.0.1.{i}" for i in range(1, args.addresses + 1)]
        for rnd in range(args.pairs):
            for label, root in zip(args.label, args.root, strict=True):
                for name, ips in (("one", ["127.0.0.1"]), ("many", many)):
                    db = tmp / f"{label}-{rnd}-{name}.db"
                    proc, url = start_node(root, dep, key, db, tmp / f"{label}.log")
                    try:
                        baseline = await latency(url, paths, args.requests)
                        r = await scenario(proc, url, ips, args, paths)
                    finally:
                        proc.terminate()
                        proc.wait(timeout=20)
                    results.append({"build": label, "round": rnd, "scenario": name,
                                    "baseline": baseline, **r})  # fmt: skip
                    print(json.dumps(results[-1]), flush=True)
    finally:
        net.stop()
    shutil.rmtree(tmp, ignore_errors=True)  # (kept when the run raised: its logs)
    return {"machine": machine(), "conns": args.conns, "results": results}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, action="append", required=True)
    ap.add_argument("--label", action="append", required=True)
    ap.add_argument("--conns", type=int, default=5000)
    ap.add_argument("--addresses", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--pairs", type=int, default=2)
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=1))


if __name__ == "__main__":
    main()
