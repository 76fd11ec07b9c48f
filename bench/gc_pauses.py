#!/usr/bin/env python3
"""A node's garbage-collection pauses on a large store, the collector's policy
(``sdex.node.gcfreeze``) on against off (``$SDEX_GC_FREEZE=0``: the unchanged code), same
build, same store, runs alternated (off, on, off, on, ...).

One devnet; ``--open`` real signed resting orders of 19 makers filled into a store (as
``bench/startup_loop.py`` fills it; the per-maker cap lifted for the bench), copied afresh for
every run. Each run starts a node in a process of its own (this file with ``--child``: the
node as ``sdex node`` runs it, plus a task on its loop that wakes every 5 ms and records how
late it woke), waits until it is ready, waits ``--settle`` seconds, then posts ``--rate``
fresh resting orders a second over HTTP for ``--seconds`` (the window). In the window: the
collections of each generation (count, wall seconds, the longest), their CPU against the
node process's CPU (the share in GC), the loop's lateness p50/p99/max, the accepted orders.
After it, the node times one forced full collection (``gc.collect()``: what a full
collection costs now, whether or not the window had one) and counts what a thaw would free
(the cycles kept frozen). Prints one JSON line a run, then one with the medians per mode.

Run: PYTHONPATH=$PWD .venv/bin/python bench/gc_pauses.py [--open N] [--rate R]
     [--seconds S] [--pairs P]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from typing import Any  # noqa: E402

import aiohttp  # noqa: E402

TICK = 0.005


def child(args: argparse.Namespace) -> None:
    """The node, with a lateness probe on its loop; SIGUSR1 opens the window, SIGUSR2 closes
    it (the figures go to ``--out``), SIGTERM stops the node."""
    from sdex.gossip.timing import GC_PAUSES
    from sdex.ingest import Limits
    from sdex.node.cliconfig import config_for
    from sdex.node.main import run_until, setup_logging, switch_interval

    cfg = config_for(
        port=args.port, deployment=args.deployment, key=args.key, db=args.db
    )  # fmt: skip
    cfg = replace(cfg, limits=Limits(max_orders_per_maker=10**6, max_orders=10**6))
    setup_logging("warning")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        late: list[float] = []
        held: list[float] = []
        """The loop thread's CPU between a tick's sleep and its wake-up: the loop's own
        holds (a collection's among them), without the waits for a core."""
        marks: dict[str, Any] = {}

        def opened() -> None:
            late.clear()
            held.clear()
            GC_PAUSES.longest_by_generation = [0.0, 0.0, 0.0]
            GC_PAUSES.longest_cpu_by_generation = [0.0, 0.0, 0.0]
            marks.update(gc=GC_PAUSES.to_json(), cpu=time.process_time(), t=time.perf_counter())

        def closed() -> None:
            g0, g1 = marks["gc"], GC_PAUSES.to_json()
            cpu = time.process_time() - marks["cpu"]
            gc_cpu = g1["cpuSeconds"] - g0["cpuSeconds"]

            def q(values: list[float], p: float) -> float:
                s = sorted(values)
                return round(1000 * s[min(len(s) - 1, int(p * len(s)))], 2)

            t, c = time.perf_counter(), time.thread_time()
            gc.collect()
            forced, forced_cpu = time.perf_counter() - t, time.thread_time() - c
            frozen = gc.get_freeze_count()
            dead_frozen = None
            if frozen:  # what a thaw would free now: the cycles that died frozen
                gc.unfreeze()
                dead_frozen = gc.collect()
                gc.freeze()
            out = {
                "window_s": round(time.perf_counter() - marks["t"], 2),
                "by_generation": [
                    b - a for a, b in zip(g0["byGeneration"], g1["byGeneration"], strict=True)
                ],
                "gc_wall_s_by_generation": [
                    round(b - a, 4)
                    for a, b in zip(
                        g0["secondsByGeneration"], g1["secondsByGeneration"], strict=True
                    )
                ],
                "longest_ms_by_generation": [round(1000 * x, 2) for x in g1["longestByGeneration"]],
                "longest_cpu_ms_by_generation": [
                    round(1000 * x, 2) for x in g1["longestCpuByGeneration"]
                ],
                "gc_cpu_s": round(gc_cpu, 4),
                "node_cpu_s": round(cpu, 3),
                "gc_cpu_share": round(gc_cpu / cpu, 4) if cpu else None,
                "late_ms": {
                    "p50": q(late, 0.5),
                    "p99": q(late, 0.99),
                    "max": q(late, 1.0),
                    "n": len(late),
                },
                "held_cpu_ms": {"p50": q(held, 0.5), "p99": q(held, 0.99), "max": q(held, 1.0)},
                "forced_full_ms": round(1000 * forced, 1),
                "forced_full_cpu_ms": round(1000 * forced_cpu, 1),
                "frozen": frozen,
                "dead_frozen": dead_frozen,
                "freezes": g1["freezes"],
                "thaws": g1["thaws"],
            }
            args.out.write_text(json.dumps(out))

        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, opened)
        loop.add_signal_handler(signal.SIGUSR2, closed)

        async def probe() -> None:
            while True:
                t, c = time.perf_counter(), time.thread_time()
                await asyncio.sleep(TICK)
                late.append(time.perf_counter() - t - TICK)
                held.append(time.thread_time() - c)

        task = asyncio.create_task(probe())
        try:
            await run_until(cfg, switch_interval(), stop)
        finally:
            task.cancel()

    asyncio.run(main())


async def post(url: str, bodies: list[bytes], rate: float) -> dict[str, int]:
    """``bodies`` at ``rate`` a second (paced from the start, not from each answer)."""
    statuses: dict[str, int] = {}
    t0 = time.perf_counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s:

        async def one(b: bytes) -> None:
            async with s.post(url, data=b, headers={"Content-Type": "application/json"}) as r:
                await r.read()
                statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1

        tasks = []
        for i, b in enumerate(bodies):
            wait = t0 + i / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(one(b)))
        await asyncio.gather(*tasks)
    return statuses


def wait_file(path: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size:
            out: dict[str, Any] = json.loads(path.read_text())
            return out
        time.sleep(0.1)
    raise TimeoutError(f"no {path} after {timeout:g} s")


def one_run(
    work: Path, template: Path, deployment: Path, key: str, mode: str, bodies: list[bytes],
    args: argparse.Namespace, i: int,
) -> dict[str, Any]:  # fmt: skip
    import node as nb

    from sdex.node.process import NodeProcess

    db = work / f"run{i}.db"
    shutil.copy(template, db)
    out = work / f"run{i}.json"
    port = nb.free_port()
    cmd = [sys.executable, __file__, "--child", "--port", str(port), "--deployment",
           str(deployment), "--key", key, "--db", str(db), "--out", str(out)]  # fmt: skip
    env = {**os.environ, "SDEX_GC_FREEZE": "1" if mode == "on" else "0"}
    log = (work / f"run{i}.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    waiter = NodeProcess(port, deployment, b"", db, work / f"run{i}.log")
    waiter.proc = proc  # (its wait_ready: /health 200, or the process gone)
    try:
        t = time.perf_counter()
        waiter.wait_ready(timeout=args.ready_timeout)
        ready = time.perf_counter() - t
        time.sleep(args.settle)
        proc.send_signal(signal.SIGUSR1)
        url = f"http://127.0.0.1:{port}/v1/orders"
        statuses = asyncio.run(post(url, bodies, args.rate))
        proc.send_signal(signal.SIGUSR2)
        row = wait_file(out, 120)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        db.unlink(missing_ok=True)
    return {"mode": mode, "run": i, "ready_s": round(ready, 1), "statuses": statuses, **row,
            "loadavg": os.getloadavg()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--open", type=int, default=40_000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--pairs", type=int, default=2)
    ap.add_argument("--first", choices=("off", "on"), default="off", help="the mode run first")
    ap.add_argument("--ready-timeout", type=float, default=900.0)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--deployment", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--key", help=argparse.SUPPRESS)
    ap.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args)
        return
    import node as nb
    from http_modes import devnet_node
    from startup_loop import fill

    from sdex.node.main import serve

    per_run = int(args.rate * args.seconds)
    runs = 2 * args.pairs
    with devnet_node("sdex-gc17-") as (work, signer, cfg):
        asyncio.run(_touch(serve, cfg))  # (the store made, empty: its schema and identity)
        signed = signer.resting(args.open + runs * per_run, list(range(nb.OPERATOR)))
        fill(cfg.db, 0, signed[: args.open])
        bodies = [nb.body(s) for s in signed[args.open :]]
        del signed
        key = "0x" + signer.keys[nb.OPERATOR].hex()
        rows: list[dict[str, Any]] = []
        for i in range(runs):
            mode = (args.first, "on" if args.first == "off" else "off")[i % 2]
            chunk = bodies[i * per_run : (i + 1) * per_run]
            row = one_run(work, cfg.db, work / "devnet.json", key, mode, chunk, args, i)
            rows.append(row)
            print(json.dumps(row), flush=True)
    summary: dict[str, Any] = {"open": args.open, "rate": args.rate, "seconds": args.seconds}
    for mode in ("off", "on"):
        mine = [r for r in rows if r["mode"] == mode]
        summary[mode] = {
            "late_p99_ms": statistics.median(r["late_ms"]["p99"] for r in mine),
            "late_max_ms": statistics.median(r["late_ms"]["max"] for r in mine),
            "held_cpu_p99_ms": statistics.median(r["held_cpu_ms"]["p99"] for r in mine),
            "held_cpu_max_ms": statistics.median(r["held_cpu_ms"]["max"] for r in mine),
            "longest_gc_ms": statistics.median(max(r["longest_ms_by_generation"]) for r in mine),
            "longest_gc_cpu_ms": statistics.median(
                max(r["longest_cpu_ms_by_generation"]) for r in mine
            ),
            "gc_cpu_share": statistics.median(r["gc_cpu_share"] or 0 for r in mine),
            "forced_full_ms": statistics.median(r["forced_full_ms"] for r in mine),
            "forced_full_cpu_ms": statistics.median(r["forced_full_cpu_ms"] for r in mine),
        }
    print(json.dumps({"medians": summary}), flush=True)


async def _touch(serve: Any, cfg: Any) -> None:
    async with serve(cfg):
        pass


if __name__ == "__main__":
    main()
