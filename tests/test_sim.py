"""The simulator: the same gossip core at small scale, deterministic by its seed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.sim import Scenario, Sim, simulate
from sdex.sim.cpu import Cpu


def figures(r: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in r.items() if k != "wall_seconds"}


def test_small_network_covers_everything_within_bounded_messages() -> None:
    r = simulate(Scenario(nodes=40, orders=20, seed=7))
    assert r["coverage"] == 1.0 and r["coverage_online_at_end"] == 1.0
    per = r["per_order_per_node"]
    assert isinstance(per, dict) and 0 < per["messages"] <= 8
    assert per["push_messages"] <= r["fanout"]  # type: ignore[operator]
    assert r["bans"] == {"of_hostile": 0, "of_honest": 0}
    to_all = r["to_all_ms"]
    assert isinstance(to_all, dict) and 0 < to_all["p50"] <= to_all["p99"] <= to_all["max"]
    assert figures(r) == figures(simulate(Scenario(nodes=40, orders=20, seed=7)))  # same seed


def test_hostile_and_churning_nodes_leave_the_honest_ones_covered() -> None:
    r = simulate(Scenario(nodes=60, orders=20, seed=3, hostile=0.2, churn=0.1))
    assert r["coverage"] == 1.0 and r["coverage_online_at_end"] == 1.0
    bans = r["bans"]
    assert isinstance(bans, dict) and bans["of_honest"] == 0 and bans["of_hostile"] >= 1


def test_sdex_simulate_prints_json_figures() -> None:
    res = CliRunner().invoke(main, ["simulate", "-n", "20", "--orders", "5", "--seed", "2"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    (run,) = out["runs"]
    assert run["nodes"] == 20 and run["orders"] == 5 and run["coverage"] == 1.0
    assert run["orders_per_s_bandwidth_allows"] > 0


def test_sdex_simulate_refuses_bad_options() -> None:
    res = CliRunner().invoke(main, ["simulate", "-n", "1"])
    assert res.exit_code == 2 and "Invalid value" in res.output


@pytest.mark.parametrize(
    ("cores", "background", "jobs", "finish"),
    [
        # a core each: every node's job takes its own cost
        (0.0, 0.0, [(0, 1.0), (1, 1.0)], {0: 1.0, 1: 1.0}),
        # one node's jobs run one after another, in arrival order
        (0.0, 0.0, [(0, 1.0), (0, 0.5)], {0: 1.5}),
        # two busy nodes on one core run at half speed each
        (1.0, 0.0, [(0, 1.0), (1, 1.0)], {0: 2.0, 1: 2.0}),
        # ... and on two cores at full speed; a node never gets more than one core
        (2.0, 0.0, [(0, 1.0), (1, 1.0)], {0: 1.0, 1: 1.0}),
        (4.0, 0.0, [(0, 1.0)], {0: 1.0}),
        # other work takes a core of two: as if one core were left
        (2.0, 1.0, [(0, 1.0), (1, 1.0)], {0: 2.0, 1: 2.0}),
        # the short job ends at 1.0 (half speed); the long one then runs alone: 1.0 + 1.5
        (1.0, 0.0, [(0, 0.5), (1, 2.0)], {0: 1.0, 1: 2.5}),
    ],
)
def test_node_cpus_share_the_machine(
    cores: float, background: float, jobs: list[tuple[int, float]], finish: dict[int, float]
) -> None:
    sim = Sim()
    cpu = Cpu(sim, cores, background)
    ended: dict[int, float] = {}
    for node, cost in jobs:
        cpu.submit(node, cost, lambda n: ended.__setitem__(n, sim.now), node)
    sim.run(100.0)
    assert ended == pytest.approx(finish)
