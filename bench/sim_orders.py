"""Order by order: where the slowest orders of a real 8-node window lost their time.

Reads what ``bench/gossip_sim.py --workdir DIR`` keeps: ``DIR/posts-K.json`` (each window's
posts: order hash -> the second the client sent it, and its status; K = 0 is the warm-up)
and ``DIR/n8/arrivals-8.json`` (the watcher's: each node's ``added`` event, stamped on
arrival). For each accepted order of window K: the delay to its first node (the wallet's
node: the HTTP call and one node's intake), then each further node's arrival after the
first (the gossip hops), and to every node. Prints the window's quantiles of each, the
slowest orders one by one (their arrivals after the first node), and which part of the
order's delay made the tail: the slowest ``--top`` orders' first-node delay and spread
against the window's medians.

    PYTHONPATH=$PWD .venv/bin/python bench/sim_orders.py DIR --window 1
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any


def quantile(xs: list[float], q: float) -> float:
    """The sample quantile the benches use (nearest rank below: ``sorted[int(q * n)]``)."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def orders_of(workdir: Path, window: int, nodes: int = 8) -> list[dict[str, Any]]:
    """Per accepted order of ``window``: sent, each node's delay (ms, by node), first node."""
    posts = json.loads((workdir / f"posts-{window}.json").read_text())
    arrivals = json.loads((workdir / f"n{nodes}" / f"arrivals-{nodes}.json").read_text())
    got: dict[str, dict[int, float]] = defaultdict(dict)
    for h, i, t in arrivals["arrivals"]:
        got[h].setdefault(i, t)
    out = []
    for h, sent in posts["sent"].items():
        if posts["status"].get(h) != 201 or len(got.get(h, {})) < nodes:
            continue
        delay = {i: 1000 * (t - sent) for i, t in got[h].items()}
        first = min(delay, key=delay.__getitem__)
        out.append({"hash": h, "sent": sent, "delay": delay, "first": first})
    out.sort(key=lambda o: o["sent"])
    return out


def summary(orders: list[dict[str, Any]], top: int) -> dict[str, Any]:
    to_first = [o["delay"][o["first"]] for o in orders]
    to_all = [max(o["delay"].values()) for o in orders]
    spread = [a - f for a, f in zip(to_all, to_first, strict=True)]
    t0 = orders[0]["sent"] if orders else 0.0

    def qs(xs: list[float]) -> dict[str, float]:
        return {f"p{int(q * 100)}": round(quantile(xs, q), 2) for q in (0.5, 0.9, 0.99)} | {
            "max": round(max(xs), 2)
        }

    slow = sorted(range(len(orders)), key=lambda k: -to_all[k])[:top]
    return {
        "orders": len(orders),
        "to_first_ms": qs(to_first),
        "first_to_last_ms": qs(spread),
        "to_all_ms": qs(to_all),
        "slowest": [
            {
                "at_s": round(orders[k]["sent"] - t0, 3),
                "to_all_ms": round(to_all[k], 2),
                "to_first_ms": round(to_first[k], 2),
                "after_first_ms": sorted(
                    round(d - to_first[k], 2) for d in orders[k]["delay"].values()
                ),
                "first_node": orders[k]["first"],
            }
            for k in slow
        ],
    }


def keep_samples(bench: Any, workdir: Path | None) -> None:
    """Have ``bench`` (``bench/gossip.py``) keep each window's delays to every node, one per
    accepted order in posting order (``to_every_node_s``, seconds; ``inf``: it missed a
    node, written as null), in its run's JSON; with ``workdir``, also each window's posts
    (``posts-K.json``, K = 0 the warm-up) for ``main`` to read with the arrivals."""
    paced, analyse = bench.post_paced, bench.analyse
    count = [0]

    async def post_paced(*a: Any, **k: Any) -> dict[str, Any]:
        p: dict[str, Any] = await paced(*a, **k)
        if workdir is not None:
            out = {"sent": p["sent"], "status": p["status"]}
            (workdir / f"posts-{count[0]}.json").write_text(json.dumps(out))
        count[0] += 1
        return p

    def analysed(n: int, rate: float, p: dict[str, Any], data: dict[str, Any], *a: Any) -> Any:
        run = analyse(n, rate, p, data, *a)
        run["forward_timing"] = forward_timing(a[0], a[1])  # (``h0``, ``h1``)
        got: dict[str, dict[int, float]] = defaultdict(dict)
        for h, i, t in data["arrivals"]:
            got[h].setdefault(i, t)
        ok = sorted((t, h) for h, t in p["sent"].items() if p["status"].get(h) == 201)
        run["to_every_node_s"] = [
            round(max(got[h].values()) - t, 5) if len(got.get(h, {})) == n else None for t, h in ok
        ]
        return run

    bench.post_paced, bench.analyse = post_paced, analysed


def forward_timing(
    h0: list[dict[str, Any]], h1: list[dict[str, Any]]
) -> dict[str, dict[str, float]] | None:
    """The window's ``forwardTiming`` (``/health``, ``sdex.node.forwarding``), all nodes
    together: per source (a wallet's order at its node, a peer's), the orders handed to
    gossip and the mean loop CPU and wall ms from the intake's start to the hand-over, and
    to the loop's turn that wrote its pushes (``sent_``; of that wall time the loop thread's
    wait for a core, ``sent_queue_``, and per intake call the rest off its CPU, a histogram
    of ``sdex.gossip.timing.EDGES_US``: ``sent_sleep_us``), and to the signatures' hand-over
    (``hand_``: CPU, wall, wait for a core). None: nodes from before it was measured."""
    if any("forwardTiming" not in h for h in h0 + h1):
        return None
    out = {}
    for source in ("wallet", "peer"):
        pairs = [
            (a["forwardTiming"][source], b["forwardTiming"][source])
            for a, b in zip(h0, h1, strict=True)
        ]
        keys = ("orders", "cpuS", "wallS", "sentCpuS", "sentWallS", "sentQueueS", "handCpuS",
                "handWallS", "handQueueS")  # fmt: skip
        d = {k: sum(b.get(k, 0) - a.get(k, 0) for a, b in pairs) for k in keys}
        n = max(1, d["orders"])
        out[source] = {"orders": d["orders"], "cpu_ms_per_order": round(1000 * d["cpuS"] / n, 4),
                       "wall_ms_per_order": round(1000 * d["wallS"] / n, 4),
                       "sent_cpu_ms_per_order": round(1000 * d["sentCpuS"] / n, 4),
                       "sent_wall_ms_per_order": round(1000 * d["sentWallS"] / n, 4)}  # fmt: skip
        if all("sentSleepUs" in b for _, b in pairs):  # (nodes from before: not measured)
            out[source]["sent_queue_ms_per_order"] = round(1000 * d["sentQueueS"] / n, 4)
            out[source]["sent_sleep_us"] = [
                sum(c) for c in zip(*(_delta(a, b, "sentSleepUs") for a, b in pairs), strict=True)
            ]
        if all("handCpuS" in b for _, b in pairs):  # (to the signatures' hand-over: sim48)
            for k in ("cpu", "wall", "queue"):
                out[source][f"hand_{k}_ms_per_order"] = round(1000 * d[f"hand{k.title()}S"] / n, 4)
    return out


def _delta(a: dict[str, Any], b: dict[str, Any], key: str) -> list[int]:
    """The counts of histogram ``key`` between readings ``a`` and ``b`` (``a``'s may be
    missing: all zero)."""
    after = b[key]
    before = a.get(key) or [0] * len(after)
    return [y - x for x, y in zip(before, after, strict=True)]


FINE_STEP = 0.005
"""Seconds: the step of the runnable-task trace once the sampler's own runs are in it."""


def time_sampler(queue: Any) -> None:
    """Put ``queue`` (``bench/runqueue.py``'s ``RunQueue``) itself in the trace it gives the
    simulator. Its sampler (a process of its own since sim11; a thread of the poster's
    before) reads every process's state in ``/proc`` every 50 ms (5-25 ms of CPU a sample
    on this machine, 100-170 processes) and counts the runnable tasks but not itself: a
    task as busy as a tenth of a core or more that the simulated nodes never met. Each
    sample's wall-clock span is recorded by the sampler (``spans``: it runs, or waits for a
    core, throughout: ``/proc`` reads do not sleep) and the trace is given at ``FINE_STEP``
    with one more runnable task over each span (pro rata at its ends)."""
    trace = queue.trace

    def traced(self: Any) -> dict[str, Any]:
        coarse: dict[str, Any] = trace(self)
        spans = getattr(self, "spans", [])
        step, per = coarse["step"], round(coarse["step"] / FINE_STEP)
        own = [v for v in coarse["own"] for _ in range(per)]
        groups = [g for g in coarse["groups"] for _ in range(per)]
        for a, b in spans:
            for k in range(int(a / FINE_STEP), min(len(own), int(b / FINE_STEP) + 1)):
                lo, hi = max(a, k * FINE_STEP), min(b, (k + 1) * FINE_STEP)
                if hi > lo:
                    own[k] += (hi - lo) / FINE_STEP
        busy = sum(b - a for a, b in spans)
        wall = len(coarse["own"]) * step
        return coarse | {
            "step": FINE_STEP,
            "own": [round(v, 3) for v in own],
            "groups": groups,
            "sampler_busy_share": round(busy / wall, 4) if wall else None,
            # (as the simulator got it before: the sampler left out)
            "coarse": {k: v for k, v in coarse.items() if k != "wakeup_late_s"},
        }

    queue.trace = traced


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("workdir", type=Path)
    ap.add_argument("--window", type=int, default=1, help="1: the first measured window")
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    print(json.dumps(summary(orders_of(args.workdir, args.window), args.top), indent=2))


if __name__ == "__main__":
    main()
