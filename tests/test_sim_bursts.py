"""``Cpu(queued=True, bursts=...)`` (sim23): the machine's other processes replayed in the
line for the cores by what each ran in each step (``bench/runqueue.py``'s per-process CPU
deltas), not by how many were runnable at an instant; the sampler's readings made into that
trace (``runqueue.bursts``); and ``bench/gossip_sim.py --core-wait queue-bursts``, which
builds the model from a window's trace."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.timing import EDGES_US
from sdex.sim import LinkModel, Scenario, simulate
from sdex.sim.cpu import Bursts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim
import runqueue

from tests.simjobs import Jobs
from tests.simjobs import run_jobs as _run

LINE = {"queued": True, "timeslice": 0.003}

job_lists = st.lists(
    st.tuples(st.integers(0, 5), st.floats(1e-5, 0.01), st.floats(0.0, 0.1)),
    min_size=1,
    max_size=30,
)
burst_steps = st.lists(st.lists(st.floats(0.0, 0.12), max_size=5), min_size=1, max_size=6)


def _window(trace: dict[str, Any], pin: pytest.MonkeyPatch | None = None) -> dict[str, Any]:
    """A real window's measurements as the bench keeps them (its checks' waits: 60% none,
    40% in bucket 32), with ``trace`` as its run-queue trace; ``pin``: the bench's machine
    2 cores and no watcher."""
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32] = 600, 400
    if pin is not None:
        pin.setitem(gossip_sim.WATCH, "on", False)
        pin.setattr(gossip_sim.os, "sched_getaffinity", lambda _: {0, 1})
    return {
        "p2p_call_ms": {"p50": 2.0, "p90": 3.0},
        "cpu_cores_used": {"machine": 1.5, "nodes": 0.9, "nodes_idle": 0.1,
                           "node_cpu_ms_per_order_per_node_above_idle": 3.0},
        "per_order_per_node": {"messages_sent": 2.0},
        "check_timing_us": {"off_cpu": counts},
        "runnable_trace": {"step": 0.005, "own": [1.0], "groups": [[1]], **trace},
    }  # fmt: skip


TRANSPORT = {"http": 0.0004, "stream": 0.0001}


def test_a_job_waits_behind_the_bursts_in_line_a_slice_each_or_whole() -> None:
    # one core; one other process ran 10 ms in the first 50 ms step: it joins the line at 0
    # and takes the core; the node's 1 ms job, ready at 1 ms, runs after its 3 ms slice
    one = Bursts(0.05, [[0.01]])
    ends, cpu = _run([(0, 0.001, 0.001)], cores=1.0, bursts=one, **LINE)
    assert ends == pytest.approx([0.004])
    assert cpu.waited == {0: pytest.approx(0.002)}  # its wait in the line (1 to 3 ms)
    assert cpu.other_seconds == pytest.approx(0.01) and not cpu.work  # all of it ran
    # the same burst in one turn: the job waits for all of it
    whole = Bursts(0.05, [[0.01]], whole=True)
    assert _run([(0, 0.001, 0.001)], cores=1.0, bursts=whole, **LINE)[0] == pytest.approx([0.011])
    # two cores: one free, no wait
    assert _run([(0, 0.001, 0.001)], cores=2.0, bursts=one, **LINE)[0] == pytest.approx([0.002])
    # a burst of the second step only: the job at 1 ms does not wait, one at 51 ms does
    late = [(0, 0.001, 0.001), (1, 0.001, 0.051)]
    assert _run(late, cores=1.0, bursts=Bursts(0.05, [[], [0.01]]), **LINE)[0] == pytest.approx(
        [0.002, 0.054]
    )


def test_a_burst_is_carried_on_past_its_step_and_a_process_on_two_cores_is_two_tasks() -> None:
    # one core, 70 ms of bursts in a 50 ms step: the last 20 ms run in the next step, and a
    # job at 60 ms still waits for a slice
    ends, cpu = _run([(0, 0.001, 0.06)], cores=1.0, bursts=Bursts(0.05, [[0.04, 0.03]]), **LINE)
    assert ends[0] > 0.061 and cpu.other_seconds == pytest.approx(0.07)
    # a process that ran 100 ms in a 50 ms step (two threads) holds both cores, whole turns
    two = Bursts(0.05, [[0.1]], whole=True)
    ends, cpu = _run([(0, 0.001, 0.001)], cores=2.0, bursts=two, **LINE)
    assert ends == pytest.approx([0.051]) and cpu.other_seconds == pytest.approx(0.1)


def test_the_fair_line_gives_a_core_to_the_group_that_has_run_least() -> None:
    # one core; four other processes busy 10 ms each from 0, a slice a turn; the node's
    # 1 ms job at 20 ms: first come first served it waits behind every burst waiting (to 30
    # ms); fair, its group (0: it had nothing to run) joins at the least of the others' and
    # goes after the slice running and one more (to 24 ms), in one group of four or four
    # groups of one alike (a task group's share, not a task's)
    for groups in ([[1, 1, 1, 1]], [[1, 2, 3, 4]]):
        plain = Bursts(0.05, [[0.01] * 4], groups=groups)
        fair = Bursts(0.05, [[0.01] * 4], groups=groups, fair=True)
        assert _run([(0, 0.001, 0.02)], cores=1.0, bursts=plain, **LINE)[0] == pytest.approx(
            [0.031]
        )
        ends, cpu = _run([(0, 0.001, 0.02)], cores=1.0, bursts=fair, **LINE)
        assert ends == pytest.approx([0.025]) and cpu.waited == {0: pytest.approx(0.004)}
        assert cpu.other_seconds == pytest.approx(0.04) and not cpu.work


@settings(max_examples=40, deadline=None)
@given(job_lists, burst_steps, st.sampled_from([1.0, 2.0]))
def test_the_fair_line_runs_every_burst_and_never_starts_a_job_early(
    jobs: Jobs, ran: list[list[float]], cores: float
) -> None:
    groups = [[k % 3 for k in range(len(step))] for step in ran]
    ends, cpu = _run(jobs, cores=cores, bursts=Bursts(0.05, ran, groups=groups, fair=True), **LINE)
    assert all(end >= at + cost - 1e-12 for (_, cost, at), end in zip(jobs, ends, strict=True))
    assert cpu.other_seconds == pytest.approx(sum(map(sum, ran)), abs=1e-9)
    assert not cpu.work and cpu.running == 0 and not cpu.ready


def test_bursts_replace_the_count_trace_and_need_the_line() -> None:
    from sdex.sim.cpu import Cpu
    from sdex.sim.events import Sim

    got = Cpu(Sim(), cores=2.0, trace=[3.0], step=0.005, bursts=Bursts(0.05, [[0.01]]), **LINE)
    assert got.bursts is not None and got.replay is None
    for cpu in ({"cores": 2.0}, {"cores": 0.0, "queued": True}):  # not in line: no bursts
        assert Cpu(Sim(), bursts=Bursts(0.05, [[0.01]]), **cpu).bursts is None


@settings(max_examples=60, deadline=None)
@given(job_lists, burst_steps, st.booleans())
def test_with_a_core_for_every_task_the_bursts_cost_the_nodes_nothing(
    jobs: Jobs, ran: list[list[float]], whole: bool
) -> None:
    """Six nodes and at most 15 burst tasks a step on 64 cores: no job waits."""
    line = {"cores": 64.0, **LINE}
    alone = _run(jobs, **line)[0]
    got = _run(jobs, bursts=Bursts(0.05, ran, whole), **line)[0]
    assert got == pytest.approx(alone, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(job_lists, burst_steps, st.sampled_from([1.0, 2.0]), st.booleans())
def test_the_bursts_run_exactly_their_measured_cpu_and_only_hold_the_nodes_back(
    jobs: Jobs, ran: list[list[float]], cores: float, whole: bool
) -> None:
    """On one or two cores: no job ends before it was submitted and its CPU spent; the
    other processes run exactly the CPU the trace says, all of it, however they interleave;
    no node waits in line longer than the whole machine's work would take."""
    ends, cpu = _run(jobs, cores=cores, bursts=Bursts(0.05, ran, whole), **LINE)
    assert all(end >= at + cost - 1e-12 for (_, cost, at), end in zip(jobs, ends, strict=True))
    assert cpu.other_seconds == pytest.approx(sum(map(sum, ran)), abs=1e-9)
    assert not cpu.work and cpu.running == 0 and not cpu.ready
    total = sum(map(sum, ran)) + sum(cost for _, cost, _ in jobs)
    assert all(0 <= w <= total + 1e-9 for w in cpu.waited.values())


def _figures(links: LinkModel) -> dict[str, Any]:
    r = simulate(Scenario(nodes=8, orders=120, rate=40.0, seed=4, degree=7, links=links))
    return {k: r[k] for k in ("coverage", "to_all_ms", "per_order_per_node", "line")}


def _links(ran: list[list[float]] | None) -> LinkModel:
    return LinkModel(latency_median=0.0005, check_cost=0.002, message_cost=0.0004, cores=2.0,
                     queued=True, timeslice=0.003, others_bursts=ran,
                     bursts_step=0.05)  # fmt: skip


def test_the_simulator_with_the_bursts_in_line_is_deterministic_and_slower() -> None:
    """Three other processes busy 40 ms a step for the first two seconds: the orders reach
    every node later than on an empty machine, the same with the same seed, the simulated
    nodes wait longer in the line, and the replayed others used what they were given."""
    ran = [[0.04, 0.04, 0.04]] * 40
    busy = _figures(_links(ran))
    assert busy == _figures(_links(ran))
    empty = _figures(_links(None))
    assert busy["coverage"] == empty["coverage"] == 1.0
    assert busy["to_all_ms"]["p50"] > empty["to_all_ms"]["p50"]
    assert busy["line"]["node_wait_ms_per_s"] > empty["line"]["node_wait_ms_per_s"]
    assert empty["line"]["other_cores"] == 0.0 < busy["line"]["other_cores"]


# the sampler's readings: t, other processes' tick deltas, the machine's busy ticks and each
# node's [stat ticks, schedstat CPU ns, run_delay ns, runs], cumulative
TICK = runqueue.TICK


def _reading(t: float, cpu: dict[str, int], machine: int, node: list[int]) -> dict[str, Any]:
    gid = {pid: int(pid) % 3 for pid in cpu}  # (each process's task group's label)
    return {"t": t, "cpu": cpu, "gid": gid, "machine": machine, "nodes": [node], "own_cpu": 0.001}


def test_the_sampler_readings_become_bursts_spread_over_the_steps_they_cover() -> None:
    readings = [
        _reading(0.0, {}, 100, [10, 0, 0, 0]),
        # 100 ms between readings (the sampler ran late): half of each delta a step
        _reading(0.1, {"7": 4, "8": 2}, 100 + 8, [11, 0, 20_000_000, 10]),
        _reading(0.15, {"7": 1}, 108 + 2, [11, 0, 20_000_000, 10]),
    ]
    got = runqueue.bursts(readings, 0.05, 3)
    assert got["bursts"] == [
        pytest.approx([2 * TICK, 1 * TICK]),
        pytest.approx([2 * TICK, 1 * TICK]),
        pytest.approx([1 * TICK]),
    ]
    assert got["burst_groups"] == [[1, 2], [1, 2], [1]]
    # the machine's busy time less the node's and the processes': 8 - 1 - 6 ticks
    assert got["rest"] == pytest.approx([0.5 * TICK, 0.5 * TICK, 1 * TICK])
    assert got["node_delay"] == [pytest.approx([0.01, 0.01, 0.0])]
    assert got["node_runs"] == [pytest.approx([5.0, 5.0, 0.0])]
    assert got["sampler_cpu_s"] == pytest.approx(0.003)


def test_the_bursts_kept_a_step_are_bounded_and_the_rest_goes_to_rest() -> None:
    many = {str(p): 1 for p in range(runqueue.MAX_BURSTS + 5)}
    readings = [_reading(0.0, {}, 0, [0, 0, 0, 0]), _reading(0.05, many, len(many), [0, 0, 0, 0])]
    got = runqueue.bursts(readings, 0.05, 1)
    assert len(got["bursts"][0]) == runqueue.MAX_BURSTS
    assert got["rest"][0] == pytest.approx(5 * TICK)
    # a node gone (its readings back to zero) gives no negative delta
    gone = [_reading(0.0, {}, 0, [50, 0, 10**9, 99]), _reading(0.05, {}, 0, [0, 0, 0, 0])]
    assert runqueue.bursts(gone, 0.05, 1)["node_delay"] == [[0.0]]


SPIN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3:\n    pass\n"


def test_the_sampler_sees_a_busy_process_run_and_measures_its_own_cost() -> None:
    queue = runqueue.RunQueue([])
    try:
        subprocess.run([sys.executable, "-c", SPIN], check=True, timeout=60)
    finally:
        means = queue.stop()
    trace = queue.trace()
    steps = len(trace["own"])
    assert len(trace["bursts"]) == len(trace["rest"]) == steps
    # the spinner's 0.3 s of CPU is in the trace (with whatever else ran meanwhile)
    assert sum(map(sum, trace["bursts"])) + sum(trace["rest"]) >= 0.25
    assert all(len(b) <= runqueue.MAX_BURSTS for b in trace["bursts"])
    # each burst's task group: the spinner is of ours (0)
    assert [len(g) for g in trace["burst_groups"]] == [len(b) for b in trace["bursts"]]
    assert 0 in {g for gs in trace["burst_groups"] for g in gs}
    assert trace["sampler_cpu_s"] > 0 and means["sampler_cpu_per_sample_ms"] > 0
    assert 0 < means["sampler_cores"] < 1


@pytest.mark.parametrize(
    ("mode", "whole", "waking", "fair"),
    [("queue-bursts", False, False, False), ("queue-bursts-whole", True, False, False),
     ("queue-bursts-waking", False, True, False), ("queue-bursts-fair", False, False, True)],
)  # fmt: skip
def test_the_bench_replays_the_windows_bursts_in_the_line(
    monkeypatch: pytest.MonkeyPatch, mode: str, whole: bool, waking: bool, fair: bool
) -> None:
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", mode)
    run = _window({"own": [1.0, 0.0], "groups": [[1], [2, 1]], "burst_step": 0.05,
                   "bursts": [[0.02, 0.5], []], "burst_groups": [[0, 3], []],
                   "rest": [0.01, 0.0], "node_delay": [[0.001, 0.002]],
                   "node_runs": [[2, 2]], "node_cpu": [[0.01, 0.01]]}, monkeypatch)  # fmt: skip
    links = gossip_sim.calibrated(run, "cpu", TRANSPORT)
    assert links.queued and links.cores == 2.0 and links.spells is None
    # each burst bounded by two cores' worth of the step, the rest one more burst
    assert links.others_bursts == [[0.02, 0.1, 0.01], []]
    assert links.bursts_step == 0.05 and links.others_trace is None
    assert links.bursts_whole is whole and links.waking_first is waking
    # each burst's task group (ours 0), the rest's -1
    assert links.bursts_groups == [[0, 3, -1], []] and links.bursts_fair is fair
    waits = gossip_sim.waits(run, {"line": {"node_wait_ms_per_s": 1.0}})
    assert waits["real_run_delay_ms_per_s"] == pytest.approx(30.0)
    assert waits["real_delay_per_run_ms"] == pytest.approx(0.75)
    assert waits["real_other_cores"] == pytest.approx(1.3)
    # a window from before the bursts were sampled: none replayed
    del run["runnable_trace"]["bursts"]
    assert gossip_sim.calibrated(run, "cpu", TRANSPORT).others_bursts is None


def test_the_real_nodes_waits_replayed_before_a_woken_nodes_job() -> None:
    """``--core-wait delays``: each node a core; a job its node starts idle waits its real
    node's ``run_delay`` per run in that step first, a job it goes on with does not (or, not
    ``delays_woken``, every job waits)."""
    from sdex.sim.delays import Delays

    start = [0.0]
    delays = Delays([[0.002, 0.004]], 0.05, lambda: start[0])
    # the step's wait; none before the first step, after the last, or for another node
    assert [delays.free_at(0, t) for t in (0.01, 0.06, 0.2, -0.01)] == pytest.approx(
        [0.012, 0.064, 0.2, -0.01]
    )
    assert delays.free_at(1, 0.01) == 0.01 and delays.free_at(-1, 0.01) == 0.01
    start[0] = float("inf")  # (before the first order: no step yet)
    assert delays.free_at(0, 0.01) == 0.01
    # two 1 ms jobs submitted together at 10 ms: the first waits 2 ms, the second goes on
    waits = Delays([[0.002]], 0.05, lambda: 0.0)
    assert _two_jobs(waits, woken=True) == pytest.approx([0.013, 0.014])
    assert _two_jobs(waits, woken=False) == pytest.approx([0.013, 0.016])


def _two_jobs(waits: Any, woken: bool) -> list[float]:
    from sdex.sim.cpu import Cpu
    from sdex.sim.events import Sim

    sim = Sim()
    cpu = Cpu(sim, free_at=waits.free_at)
    cpu.wake_only = woken
    ends: list[float] = []
    for _ in range(2):
        sim.at(0.01, cpu.submit, 0, 0.001, lambda: ends.append(sim.now))
    sim.run(1.0)
    return ends


@pytest.mark.parametrize(("mode", "woken"), [("delays", True), ("delays-every", False)])
def test_the_bench_replays_the_nodes_run_delay(
    monkeypatch: pytest.MonkeyPatch, mode: str, woken: bool
) -> None:
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", mode)
    run = _window({"burst_step": 0.05, "node_delay": [[0.004, 0.0, 0.3]],
                   "node_runs": [[2, 0, 1]]}, monkeypatch)  # fmt: skip
    del run["check_timing_us"]
    links = gossip_sim.calibrated(run, "cpu", TRANSPORT)
    assert links.cores == 0.0 and not links.queued and links.spells is None
    # per run, a step without a run none, at most a step
    assert links.node_delays == [pytest.approx([0.002, 0.0, 0.05])]
    assert links.bursts_step == 0.05 and links.delays_woken is woken
    r = simulate(Scenario(nodes=8, orders=40, rate=40.0, seed=1, degree=7, links=links))
    assert r["coverage"] == 1.0


def test_a_node_runs_at_the_share_of_a_core_its_real_thread_got() -> None:
    """``--core-wait delays-share``: each node a core, its jobs at the share of a core its
    real thread got while runnable in that step (a whole core outside the steps)."""
    from sdex.sim.cpu import Cpu
    from sdex.sim.delays import Delays
    from sdex.sim.events import Sim

    shares = Delays([[0.25, 1.0]], 0.05, lambda: 0.0)
    assert [shares.speed(0, t) for t in (0.01, 0.06, 0.2)] == [0.25, 1.0, 1.0]
    assert shares.speed(3, 0.01) == 1.0
    sim = Sim()
    cpu = Cpu(sim)
    cpu.speed_of = shares.speed
    ends: list[float] = []
    sim.at(0.01, cpu.submit, 0, 0.001, lambda: ends.append(sim.now))  # a quarter core: 4 ms
    sim.at(0.06, cpu.submit, 0, 0.001, lambda: ends.append(sim.now))  # a whole one: 1 ms
    sim.run(1.0)
    assert ends == pytest.approx([0.014, 0.061])


def test_the_bench_takes_each_nodes_share_of_a_core_around_each_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gossip_sim, "SHARE_STEPS", 2)
    trace = {"burst_step": 0.05, "node_cpu": [[0.01, 0.0, 0.0, 0.0]],
             "node_delay": [[0.03, 0.01, 0.0, 0.0]]}  # fmt: skip
    # steps 0-1, 0-2, 1-3, 2-3: CPU over CPU and wait; none of either: a whole core
    assert gossip_sim.speeds_trace(trace) == [pytest.approx([0.2, 0.2, 0.0, 1.0])]
    assert gossip_sim.speeds_trace({"burst_step": 0.05}) is None


def test_delays_share_replays_the_nodes_share_and_falls_back_to_the_line_without_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--core-wait delays-share``: the nodes' schedstat shares on a window that has them,
    ``queue`` (the line, spells on top) on one from before sim23. The default is ``queue``:
    a prediction from the machine's load, not a replay of the nodes' own waits."""
    assert gossip_sim.CORE_WAIT["mode"] == "queue"
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "delays-share")
    run = _window({"burst_step": 0.05, "node_cpu": [[0.01]], "node_delay": [[0.03]],
                   "node_runs": [[2]]})  # fmt: skip
    transport = TRANSPORT
    kept = gossip_sim.WATCH["on"]
    gossip_sim.WATCH["on"] = False
    try:
        shared = gossip_sim.calibrated(run, "cpu", transport)
        for key in ("node_cpu", "node_delay", "node_runs"):
            del run["runnable_trace"][key]
        old = gossip_sim.calibrated(run, "cpu", transport)
    finally:
        gossip_sim.WATCH["on"] = kept
    assert shared.node_speeds == [pytest.approx([0.25])] and not shared.queued
    assert old.queued and old.node_speeds is None and old.spells is not None
