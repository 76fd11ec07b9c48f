"""lat77: a lone wallet order's row handed to the store's writer mid-turn (wait74's
``Store.hand_over`` right after it is queued) against at the loop turn's end (the writer's own
hand-over, as before wait74), in one process, alternated.

Paced loop turns at ``--rate`` a second, as a lightly loaded node's wallet orders: each turn
queues one waited order row (a wallet's), then ``--peer-rows`` rows nobody waits for (peers'
orders of that turn, lazy), and runs ``--work-us`` of pure Python after it (the rest of the
turn: the order's book work, gossip, other requests). ``now``: ``Store.hand_over()`` right after
the waited row (mid-turn); ``end``: none (the rows go at the turn's end). Per way and round:
the turn's wall time (its work with the writer beside it), the row's queue-to-commit time
seen on the loop (what its POST waits for), the loop thread's voluntary context switches a
turn (each a wait, for the GIL here), the writer's hand-overs and commits a turn, and the
process's CPU a turn. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from store_handover import DOMAIN, orders  # noqa: E402

from sdex.store import ChainIdentity, Store  # noqa: E402


def busy(us: float) -> None:
    end = time.perf_counter() + us / 1e6
    x = 0
    while time.perf_counter() < end:
        x += sum(range(50))


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def way(store: Store, args: argparse.Namespace, now: bool, seq: int) -> dict[str, Any]:
    n = int(args.rate * args.seconds)
    k = 1 + args.peer_rows
    batch = orders(n * k)
    w = store._writer
    turns: list[float] = []
    commits: list[float] = []
    csw: list[int] = []
    h0, c0, p0 = w.handovers, w.commits, time.process_time()
    t0 = time.perf_counter()
    waits = []
    for i in range(n):
        await asyncio.sleep(max(0.0, t0 + i / args.rate - time.perf_counter()))
        start = time.perf_counter()
        v0 = resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw
        rows = batch[i * k : (i + 1) * k]
        fut = store.add_order_async(rows[0], seq + i * k, "open", "api")
        assert fut is not None
        fut.add_done_callback(lambda _f, s=start: commits.append(time.perf_counter() - s))
        waits.append(fut)
        if now:
            store.hand_over()
        busy(args.work_us / 2)
        for j, so in enumerate(rows[1:], 1):
            store.add_order_async(so, seq + i * k + j, "open", "peer:bench", waited=False)
        busy(args.work_us / 2)
        turns.append(time.perf_counter() - start)
        csw.append(resource.getrusage(resource.RUSAGE_THREAD).ru_nvcsw - v0)
    await asyncio.gather(*waits)
    await asyncio.sleep(0.3)
    return {
        "way": "now" if now else "end",
        "turn_ms_p50": round(1e3 * statistics.median(turns), 3),
        "turn_ms_p99": round(1e3 * _pct(turns, 0.99), 3),
        "commit_ms_p50": round(1e3 * statistics.median(commits), 3),
        "commit_ms_p99": round(1e3 * _pct(commits, 0.99), 3),
        "loop_waits_a_turn": round(sum(csw) / n, 3),
        "handovers_a_turn": round((w.handovers - h0) / n, 3),
        "commits_a_turn": round((w.commits - c0) / n, 3),
        "cpu_us_a_turn": round(1e6 * (time.process_time() - p0) / n, 1),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    out = []
    with tempfile.TemporaryDirectory() as d:
        identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "00" * 32)
        store = Store(Path(d) / "bench.db", identity, DOMAIN)
        seq = 1
        try:
            for r in range(args.rounds):
                for now in (r % 2 == 0, r % 2 == 1):  # (the order alternated each round)
                    res = await way(store, args, now, seq)
                    seq += 1_000_000
                    out.append({"round": r + 1, **res})
        finally:
            store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=12.5, help="wallet turns a second")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--peer-rows", type=int, default=7, help="peers' rows a turn")
    ap.add_argument("--work-us", type=float, default=600.0, help="the turn's work after")
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    sys.setswitchinterval(0.0005)  # (the node's, sdex.node.main.SWITCH_INTERVAL)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(json.dumps({"load": load, "args": vars(args), "runs": asyncio.run(run(args))}))


if __name__ == "__main__":
    main()
