"""``Cpu(queued=True)`` with a trace (sim16): the machine's other processes, as sampled by
``bench/runqueue.py``, replayed as tasks in the line for the cores, so the simulated nodes
wait behind them as the real ones do; and ``bench/gossip_sim.py --core-wait queue-others``,
which builds that model from a window's trace."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.timing import EDGES_US
from sdex.sim import LinkModel, Scenario, simulate
from sdex.sim.cpu import OTHER, Cpu
from sdex.sim.events import Sim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim

from tests.simjobs import Jobs
from tests.simjobs import run_jobs as _run


def test_a_job_waits_behind_the_other_tasks_slices_in_line() -> None:
    line = {"queued": True, "timeslice": 0.004, "step": 0.01}
    # one core, one other task runnable throughout: it took the core at 0 for a 4 ms slice;
    # the node's 1 ms job, ready at 1 ms, runs after it, then the other task again
    ends, cpu = _run([(0, 0.001, 0.001)], cores=1.0, trace=[1.0] * 3, **line)
    assert ends == pytest.approx([0.005])
    # the trace's 3 steps (30 ms) of one task, less the 1 ms the node had the core
    assert cpu.other_seconds == pytest.approx(0.029)
    # two other tasks on one core: the job waits for both slices
    assert _run([(0, 0.001, 0.001)], cores=1.0, trace=[2.0] * 3, **line)[0] == pytest.approx(
        [0.009]
    )
    # two cores, one other task: a core is free, no wait; a trace of none: no wait either
    for cores, trace in ((2.0, [1.0] * 3), (1.0, [0.0] * 3)):
        assert _run([(0, 0.001, 0.001)], cores=cores, trace=trace, **line)[0] == pytest.approx(
            [0.002]
        )
    # the other task runnable only from the second step: the job at 1 ms does not wait, one
    # at 11 ms does (the task took the core at 10 ms)
    late = [(0, 0.001, 0.001), (1, 0.001, 0.011)]
    assert _run(late, cores=1.0, trace=[0.0, 1.0, 1.0], **line)[0] == pytest.approx([0.002, 0.015])
    # the trace's end ends the other tasks: a job after it does not wait
    assert _run([(0, 0.001, 0.05)], cores=1.0, trace=[3.0] * 3, **line)[0] == pytest.approx([0.051])


def test_a_woken_nodes_job_goes_ahead_of_the_other_tasks_waiting_not_of_a_running_slice() -> None:
    line = {"queued": True, "timeslice": 0.004, "step": 0.01, "trace": [2.0] * 3}
    # one core, two other tasks: the first runs 0-4 ms, the second waits; a node's job at
    # 1 ms waits behind both in a plain line (ends at 9 ms), behind the running slice only
    # when the woken go first (5 ms); a second node's job, ready at 2 ms, behind the first
    jobs = [(0, 0.001, 0.001), (1, 0.001, 0.002)]
    assert _run(jobs, cores=1.0, **line)[0] == pytest.approx([0.009, 0.010])
    assert _run(jobs, cores=1.0, waking_first=True, **line)[0] == pytest.approx([0.005, 0.006])
    # no trace, nothing to go ahead of: the flag changes nothing
    assert Cpu(Sim(), cores=1.0, queued=True, waking_first=True).waking_first is False


def test_each_group_is_a_task_a_core_and_nothing_is_replayed_without_the_line() -> None:
    line = {"queued": True, "timeslice": 0.004, "step": 0.01}
    # two groups of one runnable task each on one core: as two tasks of the nodes' own
    grouped = _run([(0, 0.001, 0.001)], cores=1.0, trace=[0.0] * 3, groups=[[1, 1]] * 3, **line)
    assert grouped[0] == pytest.approx([0.009])
    assert grouped[1].replay == [2, 2, 2]
    # a group of five runnable tasks is one entity a core: one on one core, two on two
    assert _run([], cores=1.0, trace=[1.0], groups=[[5]], **line)[1].replay == [2]
    assert _run([], cores=2.0, trace=[1.0], groups=[[5, 1]], **line)[1].replay == [4]
    # a shared machine not in line, or nodes with a core each: the trace is not replayed
    for cpu in ({"cores": 1.0}, {"cores": 0.0, "queued": True}):
        assert Cpu(Sim(), trace=[2.0], step=0.01, **cpu).replay is None


job_lists = st.lists(
    st.tuples(st.integers(0, 5), st.floats(1e-5, 0.01), st.floats(0.0, 0.05)),
    min_size=1,
    max_size=30,
)
traces = st.lists(st.integers(0, 4), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(job_lists, traces, st.sampled_from([0.0, 0.004]))
def test_with_a_core_for_every_task_the_others_cost_the_nodes_nothing(
    jobs: Jobs, trace: list[int], timeslice: float
) -> None:
    """Six nodes and at most four other tasks on ten cores: nobody waits, every job ends
    when it does with no trace."""
    line = {"cores": 10.0, "queued": True, "timeslice": timeslice}
    alone = _run(jobs, **line)[0]
    assert _run(jobs, trace=[float(v) for v in trace], step=0.005, **line)[0] == pytest.approx(
        alone, abs=1e-12
    )


@settings(max_examples=60, deadline=None)
@given(job_lists, traces, st.sampled_from([1.0, 2.0]))
def test_the_other_tasks_only_hold_the_nodes_back_and_never_outlive_the_trace(
    jobs: Jobs, trace: list[int], cores: float
) -> None:
    """On one or two cores: no job of a node starts before it was submitted, and the cores
    the other tasks ran are at most what the trace had runnable (a task that stops being
    runnable leaves its core at once)."""
    line = {"cores": cores, "queued": True, "timeslice": 0.004, "step": 0.005}
    ends, cpu = _run(jobs, trace=[float(v) for v in trace], **line)
    assert all(end >= at + cost - 1e-12 for (_, cost, at), end in zip(jobs, ends, strict=True))
    assert cpu.other_seconds <= sum(trace) * 0.005 + 1e-9
    assert not cpu.active and cpu.running == 0  # all gone once the trace ended
    assert all(key > OTHER for key in cpu.ready)


def _figures(links: LinkModel) -> dict[str, Any]:
    r = simulate(Scenario(nodes=8, orders=120, rate=40.0, seed=4, degree=7, links=links))
    return {k: r[k] for k in ("coverage", "to_all_ms", "to_each_ms", "per_order_per_node")}


def _links(trace: list[float] | None) -> LinkModel:
    return LinkModel(latency_median=0.0005, check_cost=0.002, message_cost=0.0004, cores=2.0,
                     queued=True, timeslice=0.003, others_trace=trace,
                     others_step=0.005)  # fmt: skip


def test_the_simulator_with_the_others_in_line_is_deterministic_and_slower() -> None:
    """Three other tasks runnable for the window's first two seconds then none: the orders
    reach every node later than on an empty machine, the same with the same seed, and the
    gossip itself (coverage, messages) unchanged in kind."""
    trace = [3.0] * 400 + [0.0] * 400
    busy = _figures(_links(trace))
    assert busy == _figures(_links(trace))
    empty = _figures(_links(None))
    assert _figures(_links([0.0] * 800)) == empty
    assert busy["coverage"] == empty["coverage"] == 1.0
    assert busy["to_all_ms"]["p50"] > empty["to_all_ms"]["p50"]
    assert busy["to_all_ms"]["p99"] > empty["to_all_ms"]["p99"]


@pytest.mark.parametrize(
    ("mode", "spells", "replayed"),
    [("queue-others", False, [2.0, 3.0]), ("queue-others-waking", False, [2.0, 3.0]),
     ("queue-others-spells", True, [2.0, 3.0]), ("queue", True, None)],
)  # fmt: skip
def test_the_bench_replays_the_windows_trace_in_the_line(
    monkeypatch: pytest.MonkeyPatch, mode: str, spells: bool, replayed: list[float] | None
) -> None:
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32] = 600, 400
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", mode)
    monkeypatch.setitem(gossip_sim.WATCH, "on", False)
    monkeypatch.setattr(gossip_sim.os, "sched_getaffinity", lambda _: {0, 1})
    run = {
        "p2p_call_ms": {"p50": 2.0, "p90": 3.0},
        "cpu_cores_used": {"machine": 1.5, "nodes": 0.9, "nodes_idle": 0.1,
                           "node_cpu_ms_per_order_per_node_above_idle": 3.0},
        "per_order_per_node": {"messages_sent": 2.0},
        "check_timing_us": {"off_cpu": counts},
        "runnable_trace": {"step": 0.005, "own": [1.0, 0.0], "groups": [[1], [2, 1]]},
    }  # fmt: skip
    links = gossip_sim.calibrated(run, "cpu", {"http": 0.0004, "stream": 0.0001})
    assert links.queued and links.cores == 2.0 and links.background == 0.0
    assert (links.spells is not None) is spells
    # (flat: every runnable task alike, the groups' added to the nodes' own group's)
    assert links.others_trace == replayed
    assert links.others_step == 0.005 and links.others_groups is None
    assert links.waking_first is (mode == "queue-others-waking")
