"""The simulator: the same gossip core at small scale, deterministic by its seed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sdex.cli import main
from sdex.sim import Scenario, simulate


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
