"""``sdex simulate``: the gossip core at 100, 1,000 and 10,000 nodes, as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from sdex.cliopts import writable_file
from sdex.clirange import FloatBetween, IntBetween

TARGET_NODES = 1000
TARGET_P99_MS = 1000.0
TARGET_MESSAGES = 8.0


def default_orders(nodes: int) -> int:
    """Orders per run: enough for percentiles, few enough that 10,000 nodes take minutes."""
    return max(10, min(200, 100_000 // nodes))


def targets(runs: list[dict[str, Any]], latency_ms: float) -> dict[str, Any]:
    """Issue 15's targets for the simulated 1,000 nodes (with 50 ms links)."""
    out: dict[str, Any] = {}
    for r in runs:
        if r["nodes"] != TARGET_NODES or latency_ms != 50 or r["hostile"] or r["churn"]:
            continue
        p99 = r["to_all_ms"]["p99"]
        msgs = r["per_order_per_node"]["messages"]
        out = {
            "coverage": {"value": r["coverage"], "target": 1.0, "met": r["coverage"] >= 1.0},
            "p99_to_all_ms": {
                "value": p99,
                "target": TARGET_P99_MS,
                "met": p99 is not None and p99 <= TARGET_P99_MS,
            },
            "messages_per_order_per_node": {
                "value": msgs,
                "target": TARGET_MESSAGES,
                "met": msgs <= TARGET_MESSAGES,
            },
        }
    return out


@click.command()
@click.option("--nodes", "-n", type=IntBetween(2, 100_000, "nodes"), multiple=True,
              help="Network sizes (repeat; default 100, 1000 and 10000).")  # fmt: skip
@click.option("--orders", type=IntBetween(1, 100_000, "orders"), default=None,
              help="Orders per run (default: 200 at 100 nodes down to 10 at 10,000).")  # fmt: skip
@click.option("--rate", type=FloatBetween(0.01, 1e6, "orders a second"), default=20.0,
              show_default=True, help="Orders posted per second, network-wide.")  # fmt: skip
@click.option("--latency-ms", type=FloatBetween(0.0, 10_000, "ms"), default=50.0,
              show_default=True, help="Median one-way link latency (lognormal).")  # fmt: skip
@click.option("--sigma", type=FloatBetween(0.0, 3.0), default=0.5, show_default=True,
              help="Lognormal shape of the latency (0.5: p99 about 3.2 x the median).")  # fmt: skip
@click.option("--bandwidth-mbit", type=FloatBetween(0.01, 1e6, "Mbit/s"), default=10.0,
              show_default=True, help="Each node's bandwidth, each way.")  # fmt: skip
@click.option("--check-ms", type=FloatBetween(0.0, 1000, "ms"), default=2.0, show_default=True,
              help="Intake time per new order at a node.")  # fmt: skip
@click.option("--fanout", type=IntBetween(1, 64, "peers"), default=6, show_default=True,
              help="Mesh size D each order is pushed to.")  # fmt: skip
@click.option("--hostile", type=FloatBetween(0.0, 0.9, "a share of the nodes"), default=0.0,
              show_default=True,
              help="Share of hostile nodes (silent; half of them also forge).")  # fmt: skip
@click.option("--churn", type=FloatBetween(0.0, 0.9, "a share of the nodes"), default=0.0,
              show_default=True,
              help="Share of honest nodes that leave during posting and restart.")  # fmt: skip
@click.option("--churn-seconds", type=FloatBetween(0.1, 600, "seconds"), default=5.0,
              show_default=True, help="How long a churning node stays away.")  # fmt: skip
@click.option("--seeds", type=click.Choice(["warm", "bootstrap"]), default="warm",
              show_default=True, help="warm: each node starts knowing 32 random others; "
              "bootstrap: node 0 is the only seed, the rest by peer exchange.")  # fmt: skip
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the run's random draws (links, orders, hostile and churning "
              "nodes): another seed, another sample of the same network.")  # fmt: skip
@click.option("--progress", "progress_every", type=FloatBetween(0.0, 3600, "seconds"),
              default=5.0, show_default=True,
              help="Seconds between two progress lines on stderr (simulated time reached, "
              "events run); 0: none.")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), callback=writable_file,
              help="Also write the JSON here (checked before the run).")  # fmt: skip
def simulate(
    nodes: tuple[int, ...],
    orders: int | None,
    rate: float,
    latency_ms: float,
    sigma: float,
    bandwidth_mbit: float,
    check_ms: float,
    fanout: int,
    hostile: float,
    churn: float,
    churn_seconds: float,
    seeds: str,
    seed: int,
    progress_every: float,
    out: Path | None,
) -> None:
    """Simulate the gossip protocol (the node's own core, no sockets) and print JSON figures:
    coverage, p50/p99 to every node, messages and bytes per order per node, and the orders
    per second a node's bandwidth allows."""
    from sdex.gossip.actions import GossipConfig
    from sdex.sim.links import LinkModel
    from sdex.sim.run import Scenario
    from sdex.sim.run import simulate as run

    runs = []
    for n in nodes or (100, 1000, 10_000):
        began = time.monotonic()
        k = orders or default_orders(n)
        print(json.dumps({"nodes": n, "orders": k, "started": True}), file=sys.stderr, flush=True)

        def said(simulated: float, events: int, n: int = n, began: float = began) -> None:
            line = {"nodes": n, "simulated_s": round(simulated, 2), "events": events,
                    "wall_s": round(time.monotonic() - began, 1)}  # fmt: skip
            print(json.dumps(line), file=sys.stderr, flush=True)

        links = LinkModel(
            latency_median=latency_ms / 1000,
            latency_sigma=sigma,
            bandwidth=bandwidth_mbit * 1e6 / 8,
            check_cost=check_ms / 1000,
        )
        gossip = GossipConfig(fanout=fanout, mesh_min=max(1, fanout - 2), mesh_max=fanout + 2)
        sc = Scenario(
            nodes=n,
            orders=k,
            rate=rate,
            seed=seed,
            hostile=hostile,
            churn=churn,
            churn_seconds=churn_seconds,
            seeds=seeds,
            links=links,
            gossip=gossip,
            progress=said if progress_every else None,
            progress_every=progress_every,
        )
        figures = run(sc)
        # the link options in the command's own units (user38: the simulator's model came
        # back in seconds and bytes a second, unlabelled, with 30 bench calibrations unset)
        figures["links"] = {
            "latency_ms": latency_ms,
            "sigma": sigma,
            "bandwidth_mbit": bandwidth_mbit,
            "check_ms": check_ms,
        }
        runs.append(figures)
        print(json.dumps({"nodes": n, "done": True}), file=sys.stderr)
    result = {"runs": runs, "targets": targets(runs, latency_ms)}
    text = json.dumps(result, indent=2)
    click.echo(text)
    if out is not None:
        out.write_text(text + "\n")
