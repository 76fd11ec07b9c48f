"""What a real gossip node's loop pays per order besides its checks, from saved windows.

Reads ``bench/gossip_sim.py``'s real runs (``--real-only --workdir DIR`` writes
``DIR/real-runs.json``; the predictions' JSON holds the same run under ``real``) and prints,
per window, each candidate cost an order costs a node, with the source of every figure (the
nodes' ``/health`` counters, the bench's samplers), beside the simulator's charge when a
prediction of that window is given (``--pred``: ``gossip_sim.py --real-from ... --stamped-only``).

    PYTHONPATH=$PWD .venv/bin/python bench/gossip_loop_costs.py /tmp/w1/real-runs.json \
        --pred /tmp/w1-pred.json

Every figure is per order and node unless named otherwise.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def real_run(path: str) -> dict[str, Any]:
    """The first real run in ``path`` (a ``real-runs.json`` or a prediction's JSON)."""
    with open(path) as f:
        data = json.load(f)
    runs = data["runs"] if isinstance(data, dict) and "runs" in data else data
    run = runs[0]
    return dict(run["real"]) if "real" in run else dict(run)


def costs(run: dict[str, Any]) -> dict[str, Any]:
    """The candidates' measured costs (ms, counts) and where each comes from."""
    per, cpu = run["per_order_per_node"], run["cpu_cores_used"]
    threads, fw = cpu["threads"], run["forward_timing"]
    main, store = threads["MainThread"], threads["sdex-store"]
    wallet, peer = fw["wallet"], fw["peer"]
    return {
        "to_the_signatures_hand_over": {
            "source": "/health forwardTiming hand* (intake start to its first wait, sim48)",
            **{s: hand_over(fw[s]) for s in ("wallet", "peer")},
        },
        "loop_thread": {
            "source": "/health threadCpu + /proc schedstat (bench sampler): MainThread",
            "cpu_ms": main["cpu_ms_per_order_per_node"],
            "cpu_ms_above_idle": main["above_idle"],
            "waited_for_core_ms": main["waited_ms_per_order_per_node"],
            "runs": main["runs_per_order_per_node"],
            "waited_ms_per_run": round(
                main["waited_ms_per_order_per_node"] / main["runs_per_order_per_node"], 3
            ),
        },
        "store_thread": {
            "source": "/health threadCpu + schedstat: sdex-store (holds the GIL while in Python)",
            "cpu_ms": store["cpu_ms_per_order_per_node"],
            "runs": store["runs_per_order_per_node"],
            "commits": per["store_commits"],
        },
        "wallet_post": {
            "source": "/health forwardTiming.wallet (the posted-to node; a node's share: / 8)",
            "cpu_ms_to_pushes": wallet["sent_cpu_ms_per_order"],
            "off_cpu_ms_to_pushes": round(
                wallet["sent_wall_ms_per_order"] - wallet["sent_cpu_ms_per_order"], 3
            ),
            "of_which_waiting_for_core_ms": wallet["sent_queue_ms_per_order"],
        },
        "peer_check": {
            "source": "/health forwardTiming.peer (intake start to the pushes' turn)",
            "cpu_ms_to_pushes": peer["sent_cpu_ms_per_order"],
            "off_cpu_ms_to_pushes": round(
                peer["sent_wall_ms_per_order"] - peer["sent_cpu_ms_per_order"], 3
            ),
            "of_which_waiting_for_core_ms": peer["sent_queue_ms_per_order"],
        },
        "frames": {
            "source": "/health gossip counters (streamFrames, answers, copies)",
            "push_frames_sent": per["stream_frames_sent"],
            "answer_frames_sent": per["stream_answer_frames_sent"],
            "copies_received": per["order_copies_received"],
            "echoes_skipped": per["echoes_skipped"],
        },
        "watcher_events": {
            "source": "one websocket event an order and node (the bench's watcher reads all 8)",
            "events": 1.0,
            "watcher_lag_ms_p50_p90_p99": [
                run["node_stamped_ms"]["watcher_lag"][k] for k in ("p50", "p90", "p99")
            ],
        },
        "timers": {
            "source": "/health gossip timerWakeups, voidTimers",
            "wakeups": per["timer_wakeups"],
            "void": per["void_timers"],
        },
        "loop_turns": {
            "source": "/health loopTurns (sdex.gossip.timing.LOOP_TURNS)",
            "turns": per["loop_turns"],
            "woken": per["loop_turns_woken"],
            "slept": per["loop_turns_slept"],
        },
        "other_processes_cores": {
            "source": "bench sampler (/proc): the window's mean cores",
            "sampler": cpu["sampler_cores"],
            "watcher": cpu["watcher"],
            "poster": cpu["bench_poster"],
            "hardhat": cpu["hardhat"],
            "rest": cpu["other_processes"],
            "wakeup_late_ms_p50_p99": [cpu["wakeup_late_p50_ms"], cpu["wakeup_late_p99_ms"]],
        },
    }


def hand_over(timing: dict[str, Any]) -> dict[str, Any] | None:
    """CPU and waits for a core (ms an order) from the intake's start to its signatures'
    hand-over and from there to the pushes' turn; None: nodes from before sim48."""
    if "hand_cpu_ms_per_order" not in timing:
        return None
    cpu, wait = timing["hand_cpu_ms_per_order"], timing["hand_queue_ms_per_order"]
    return {
        "cpu_ms_before": cpu,
        "cpu_ms_after": round(timing["sent_cpu_ms_per_order"] - cpu, 4),
        "waiting_for_core_ms_before": wait,
        "waiting_for_core_ms_after": round(timing["sent_queue_ms_per_order"] - wait, 4),
    }


def charged(pred: dict[str, Any]) -> dict[str, Any]:
    """What the simulator charged in ``pred`` (ms) and its nodes' waits beside the real ones."""
    sim = pred["runs"][0]["cpu"]
    links, waits = sim["links"], sim.get("waits", {})
    out: dict[str, Any] = {
        "check_ms": round(links["check_cost"] * 1000, 4),
        "after_ms": round(links["after_cost"] * 1000, 4),
        "post_ms_wallet_order": round(links["post_cost"] * 1000, 4),
        "post_wait_ms_wallet_order": round(links["post_wait"] * 1000, 4),
        "message_ms_both_nodes": round(links["message_cost"] * 1000, 4),
        "handover_share_peer_wallet": [
            links.get("handover_share", 0.0),
            links.get("post_handover_share", 0.0),
        ],
    }
    if waits:
        real = waits["real_run_delay_ms_per_s"]
        simulated = waits["simulated"]["node_wait_ms_per_s"]
        out["core_wait_ms_per_s_node"] = {
            "real": real,
            "simulated": simulated,
            "simulated_over_real": round(simulated / real, 3) if real else None,
        }
    timing = sim.get("comparison_node_stamped", {}).get("push_timing_ms")
    if timing:
        out["push_timing_ms"] = timing
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="real-runs.json files (or predictions' JSON)")
    ap.add_argument("--pred", action="append", default=[],
                    help="a prediction of the same window, in the same order")  # fmt: skip
    args = ap.parse_args()
    out = []
    for i, path in enumerate(args.runs):
        row: dict[str, Any] = {"window": path, "measured": costs(real_run(path))}
        if i < len(args.pred):
            with open(args.pred[i]) as f:
                row["simulator_charged"] = charged(json.load(f))
        out.append(row)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
