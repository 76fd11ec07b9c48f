"""``Cpu(queued=True)``, ``LinkModel.queued``: the nodes of a shared machine wait in one line
for its cores, their spells on top (sim14), so the nodes' own contention for the cores grows
with the rate; and ``bench/gossip_sim.py --core-wait queue``, which builds that model."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.timing import EDGES_US
from sdex.sim import LinkModel, Scenario, simulate
from sdex.sim.spells import SpellModel, Spells

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim

from tests.simjobs import Jobs, run_jobs


def _run(jobs: Jobs, **cpu: Any) -> list[float]:
    """When each job ends (in the jobs' order) on a ``Cpu(**cpu)``."""
    return run_jobs(jobs, **cpu)[0]


job_lists = st.lists(
    st.tuples(st.integers(0, 5), st.floats(1e-5, 0.01), st.floats(0.0, 0.05)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(job_lists, st.floats(0.0, 0.9), st.integers(0, 1000), st.sampled_from([0.0, 0.004]))
def test_with_a_core_for_every_node_the_line_is_the_spells_model(
    jobs: Jobs, share: float, seed: int, timeslice: float
) -> None:
    """Six nodes in line for six cores (or more) never wait for one: every job ends when it
    would with a core each and the same spells."""
    model = SpellModel(share, (0.002, 0.007, 0.02))
    own = _run(jobs, free_at=Spells(model, seed).free_at)
    for cores in (6.0, 9.0):
        line = _run(jobs, cores=cores, queued=True, timeslice=timeslice,
                    free_at=Spells(model, seed).free_at)  # fmt: skip
        assert line == pytest.approx(own, abs=1e-12)


@settings(max_examples=80, deadline=None)
@given(job_lists, st.sampled_from([0.0, 0.004]))
def test_with_one_core_the_work_is_serialized(jobs: Jobs, timeslice: float) -> None:
    """One core: no two jobs of any nodes overlap, none starts before it was submitted, and
    the core is never idle while a job waits (all submitted at once: the last ends when
    all their CPU is spent)."""
    ends = _run(jobs, cores=1.0, queued=True, timeslice=timeslice)
    spans = sorted((end - cost, end, at) for (_, cost, at), end in zip(jobs, ends, strict=True))
    for (_, before, _), (start, _, _) in itertools.pairwise(spans):
        assert start >= before - 1e-12
    assert all(start >= at - 1e-12 for start, _, at in spans)
    at_once = [(node, cost, 0.0) for node, cost, _ in jobs]
    assert max(_run(at_once, cores=1.0, queued=True, timeslice=timeslice)) == pytest.approx(
        sum(cost for _, cost, _ in jobs), rel=1e-9
    )


def test_two_cores_serve_the_line_in_order_and_a_node_keeps_its_core_for_its_slice() -> None:
    # three nodes' 10 ms jobs at once on two cores: the third waits for the first to end
    three = [(0, 0.01, 0.0), (1, 0.01, 0.0), (2, 0.01, 0.0)]
    assert _run(three, cores=2.0, queued=True) == pytest.approx([0.01, 0.01, 0.02])
    # node 0 has two 1 ms jobs, node 1 one, on one core: back in line after each job
    # (timeslice 0), node 1's job goes between; within a 4 ms slice node 0 goes on first
    jobs = [(0, 0.001, 0.0), (0, 0.001, 0.0), (1, 0.001, 0.0)]
    assert _run(jobs, cores=1.0, queued=True) == pytest.approx([0.001, 0.003, 0.002])
    slice_ = _run(jobs, cores=1.0, queued=True, timeslice=0.004)
    assert slice_ == pytest.approx([0.001, 0.002, 0.003])
    # a core at 0.5 of one (a half-core's capacity): the job takes twice its CPU
    assert _run([(0, 0.01, 0.0)], cores=1.0, background=0.5, queued=True) == [pytest.approx(0.02)]
    # a job that costs nothing needs no core: it runs at once though the core is busy
    free = [(0, 0.01, 0.0), (1, 0.0, 0.001)]
    assert _run(free, cores=1.0, queued=True) == pytest.approx([0.01, 0.001])


def _figures(links: LinkModel, rate: float = 40.0) -> dict[str, Any]:
    r = simulate(Scenario(nodes=8, orders=120, rate=rate, seed=4, degree=7, links=links))
    return {k: r[k] for k in ("coverage", "to_all_ms", "to_each_ms", "per_order_per_node")}


SPELLS = SpellModel(0.4, (0.003, 0.006, 0.012))


def _links(**kw: Any) -> LinkModel:
    return LinkModel(latency_median=0.0005, check_cost=0.002, message_cost=0.0004,
                     spells=SPELLS, **kw)  # fmt: skip


def test_the_simulator_in_line_is_deterministic_equals_spells_with_a_core_each_and_slower() -> None:
    one = _figures(_links(cores=1.0, queued=True, timeslice=0.004))
    assert one == _figures(_links(cores=1.0, queued=True, timeslice=0.004))
    spells = _figures(_links())
    assert _figures(_links(cores=8.0, queued=True, timeslice=0.004)) == spells
    assert one["coverage"] == spells["coverage"] == 1.0
    assert one["to_all_ms"]["p50"] > spells["to_all_ms"]["p50"]
    assert one["to_all_ms"]["p99"] > spells["to_all_ms"]["p99"]
    # at a low rate the nodes seldom meet in line: the one core costs little
    slow, alone = _figures(_links(cores=2.0, queued=True), 2.0), _figures(_links(), 2.0)
    assert slow["to_all_ms"]["p50"] <= 1.2 * alone["to_all_ms"]["p50"]


@pytest.mark.parametrize(
    ("mode", "cores", "background"),
    [("queue", 2.0, 0.0), ("queue-free", 2.0, 0.7), ("queue-left", 2.0, 0.7)],
)
def test_the_bench_puts_the_measured_spells_on_a_line_for_the_cores(
    monkeypatch: pytest.MonkeyPatch, mode: str, cores: float, background: float
) -> None:
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32] = 600, 400
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", mode)
    model = gossip_sim.spells_model({"check_timing_us": {"off_cpu": counts}})
    assert model is not None and model.share == pytest.approx(0.4)
    monkeypatch.setattr(gossip_sim.os, "sched_getaffinity", lambda _: {0, 1})
    run = {
        "p2p_call_ms": {"p50": 2.0, "p90": 3.0},
        "cpu_cores_used": {"machine": 1.5, "nodes": 0.9, "nodes_idle": 0.1,
                           "node_cpu_ms_per_order_per_node_above_idle": 3.0},
        "per_order_per_node": {"messages_sent": 2.0},
        "check_timing_us": {"off_cpu": counts},
    }  # fmt: skip
    links = gossip_sim.calibrated(run, "cpu", {"http": 0.0004, "stream": 0.0001})
    assert links.queued and links.cores == cores
    assert links.background == pytest.approx(background)
    assert links.spells == (None if mode == "queue-left" else model)
    assert links.others is None


def test_the_bench_predicts_the_stamped_comparison_alone_as_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--stamped-only``: one prediction (the nodes' stamps', no watcher), written as JSON
    (its first version failed on the spell model only after its simulations had run)."""
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32] = 600, 400
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "queue")
    monkeypatch.setitem(gossip_sim.STAMPED, "only", True)
    lat = {"p50": 20.0, "p90": 40.0, "p99": 80.0}
    latency = {"to_every_node": lat, "to_each_node": lat, "accepted_by_first_node": lat}
    run = {
        "p2p_call_ms": {"p50": 1.0, "p90": 2.0},
        "cpu_cores_used": {"machine": 1.5, "nodes": 0.2, "nodes_idle": 0.05,
                           "node_cpu_ms_per_order_per_node_above_idle": 3.0},
        "per_order_per_node": {"messages_sent": 2.5, "order_copies_sent": 2.8},
        "check_timing_us": {"off_cpu": counts},
        "offered": {"rate_per_s": 4.0, "orders_accepted": 20, "post_latency_ms": {"p50": 5.0}},
        "latency_ms": latency, "node_stamped_ms": latency, "coverage": 1.0,
    }  # fmt: skip
    out = gossip_sim.predict(run, {"http": 0.0004, "stream": 0.0001}, seed=1, seeds=1)
    assert set(out) == {"real", "transport_cpu_us_per_call", "cpu"}
    assert out["cpu"]["links"]["queued"] is True
    assert out["cpu"]["links"]["spells"]["share"] == pytest.approx(0.4)
    compared = json.loads(json.dumps(out))["cpu"]["comparison_node_stamped"]
    assert compared["coverage"]["simulated"] == 1.0
    assert compared["to_every_node_p50_ms"]["ratio"] > 0
