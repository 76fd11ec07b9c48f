"""sim25: forecasting the nodes' share of the shared machine's cores from the other processes'
load alone (``sdex.sim.shares``: ``core_share``, ``share_trace``, ``GroupShare``; the line at
that share, ``Cpu.share_at``), and ``bench/gossip_sim.py``'s forecast modes built from a
window's trace (``--core-wait queue-groups``, ``fair-ps``)
and its one transport calibration for every prediction (``--transport-from``)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.timing import EDGES_US
from sdex.sim.shares import WEIGHTS, GroupShare, Steps, core_share, share_trace, step_means

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim

from tests.simjobs import run_jobs

LINE = {"queued": True, "timeslice": 0.003}
TRANSPORT = {"http": 0.0004, "stream": 0.0001}

groups_st = st.lists(st.integers(0, 12), max_size=8)


@pytest.mark.parametrize(
    ("cores", "groups", "own", "weights", "share"),
    [
        (2, [], 0.0, "entities", 1.0),  # nothing else runnable: the whole core
        (2, [0, 0], 0.0, "entities", 1.0),  # groups with nothing runnable are not there
        (2, [1], 0.0, "entities", 1 / 1.5),  # one task: on one core of two, half the time
        (2, [2], 0.0, "entities", 0.5),  # on both cores: an equal entity on each
        (2, [9], 0.0, "entities", 0.5),  # nine tasks of one group weigh as two
        (2, [1, 1, 1], 0.0, "entities", 1 / 2.5),
        (2, [], 2.0, "entities", 0.5),  # our own two other tasks: one on each core
        (2, [2], 2.0, "entities", 0.25),  # the group's half, shared with our other task there
        (1, [3], 0.0, "entities", 0.5),
        (2, [1], 0.0, "groups", 1 / 1.5),  # each group one entity on one core of the two
        (2, [9, 1, 1], 0.0, "groups", 0.4),  # however many tasks it has
        (2, [1], 0.0, "shares", 0.5),  # a group's whole weight on its one core
        (2, [5, 1, 1], 0.0, "shares", 0.25),  # each group its weight, however many tasks
        (2, [4], 1.0, "shares", 0.5 / 1.5),
    ],
)
def test_a_task_of_ours_gets_the_share_of_a_core_the_groups_leave(
    cores: int, groups: list[int], own: float, weights: str, share: float
) -> None:
    assert core_share(cores, groups, own, weights) == pytest.approx(share)


@pytest.mark.parametrize(
    ("cores", "weights", "error"),
    [(0, "entities", "cores"), (-1, "shares", "cores"), (2, "flat", "weights")],
)
def test_a_machine_without_cores_or_an_unknown_weighing_is_refused(
    cores: int, weights: str, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        core_share(cores, [1], 0.0, weights)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), groups_st, st.floats(0.0, 20.0), st.sampled_from(WEIGHTS),
       st.integers(1, 12), st.floats(0.0, 5.0))  # fmt: skip
def test_a_share_is_a_part_of_a_core_and_shrinks_as_the_others_grow(
    cores: int, groups: list[int], own: float, weights: str, more: int, more_own: float
) -> None:
    share = core_share(cores, groups, own, weights)
    assert 0.0 < share <= 1.0
    # one more busy group, or more of our own other tasks, never leaves us more
    assert core_share(cores, [*groups, more], own, weights) <= share
    assert core_share(cores, groups, own + more_own, weights) <= share
    # the order the groups were sampled in does not matter
    assert core_share(cores, sorted(groups), own, weights) == pytest.approx(share)
    if not own and not any(groups):  # nothing else runnable: the whole core
        assert share == 1.0


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(1, 12), min_size=1, max_size=6))
def test_by_the_kernels_shares_a_group_weighs_one_however_many_tasks_it_has(
    cores: int, groups: list[int]
) -> None:
    # (``entities``: a group weighs as many cores as it has tasks on, up to all of them)
    assert core_share(cores, groups, 0.0, "shares") == pytest.approx(1 / (1 + len(groups)))
    spread = sum(min(n, cores) for n in groups) / cores
    assert core_share(cores, groups, 0.0, "entities") == pytest.approx(1 / (1 + spread))
    # (``groups``: each group one entity on one core, the groups spread over the cores)
    assert core_share(cores, groups, 0.0, "groups") == pytest.approx(1 / (1 + len(groups) / cores))


@settings(max_examples=100, deadline=None)
@given(st.lists(groups_st, min_size=1, max_size=40), st.integers(1, 12), st.sampled_from(WEIGHTS))
def test_a_trace_of_shares_is_each_steps_mean(
    groups: list[list[int]], per: int, weights: str
) -> None:
    own = [float(k % 3) for k in range(len(groups))]
    values = share_trace(2, groups, own, per, weights)
    assert len(values) == math.ceil(len(groups) / per)
    each = [core_share(2, g, o, weights) for g, o in zip(groups, own, strict=True)]
    for k, v in enumerate(values):
        part = each[k * per : (k + 1) * per]
        assert v == pytest.approx(sum(part) / len(part))
        assert 0.0 < v <= 1.0


def test_a_trace_needs_its_samples_in_step_and_a_step() -> None:
    with pytest.raises(ValueError, match="per"):
        share_trace(2, [[1]], None, 0)
    with pytest.raises(ValueError, match="one value a sample"):
        share_trace(2, [[1], [2]], [1.0])
    assert share_trace(2, [[1], [2]], None, 1) == pytest.approx([1 / 1.5, 0.5])


def test_the_share_at_a_time_holds_its_ends_outside_the_trace() -> None:
    start = [math.inf]
    share = GroupShare([0.5, 0.25, 0.75], 0.05, lambda: start[0])
    assert share.at(3.0) == 0.5  # (no first post yet: the first value)
    start[0] = 1.0
    assert [share.at(t) for t in (0.0, 1.0, 1.06, 1.12, 9.0)] == [0.5, 0.5, 0.25, 0.75, 0.75]
    assert GroupShare([], 0.05, lambda: 0.0).at(1.0) == 1.0


@pytest.mark.parametrize(
    ("values", "step", "error"),
    [([0.5], 0.0, "step"), ([0.0], 0.05, "out of"), ([1.5], 0.05, "out of"),
     ([math.nan], 0.05, "out of")],
)  # fmt: skip
def test_a_share_trace_out_of_bounds_is_refused(
    values: list[float], step: float, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        GroupShare(values, step, lambda: 0.0)


def test_a_measured_value_at_a_time_and_its_bounds() -> None:
    own = Steps([2.0, 0.0], 0.05, lambda: 1.0)
    assert [own.at(t) for t in (0.0, 1.01, 1.07, 5.0)] == [2.0, 2.0, 0.0, 0.0]
    assert Steps([], 0.05, lambda: 1.0).at(1.0) == 0.0
    for bad in ([-1.0], [math.inf]):
        with pytest.raises(ValueError, match="out of"):
            Steps(bad, 0.05, lambda: 0.0)
    assert step_means([1.0, 2.0, 3.0], 2) == [1.5, 3.0]
    with pytest.raises(ValueError, match="per"):
        step_means([1.0], 0)


def test_our_groups_other_tasks_share_its_time_with_its_busy_nodes() -> None:
    # whole cores for our group; one other task of ours runnable: a lone node's 2 ms job
    # gets half a core (4 ms); on two cores, a second node's job started while the first is
    # busy two thirds (3 ms: the pace is set when a job starts); none of ours: whole cores
    share = GroupShare([1.0], 0.05, lambda: 0.0)
    one = Steps([1.0], 0.05, lambda: 0.0)
    assert _with_share([(0, 0.002, 0.0)], 1.0, share, one)[0] == pytest.approx([0.004])
    both = [(0, 0.002, 0.0), (1, 0.002, 0.0)]
    assert _with_share(both, 2.0, share, one)[0] == pytest.approx([0.004, 0.003])
    none = Steps([0.0], 0.05, lambda: 0.0)
    assert _with_share(both, 2.0, share, none)[0] == pytest.approx([0.002, 0.002])


def test_a_job_in_the_line_runs_at_the_groups_share_of_its_core() -> None:
    # one core at a half share from 0 to 50 ms, then a whole one: a 2 ms job at 0 ends at
    # 4 ms; one at 60 ms at 62 ms; two at once on one core one after the other at half speed
    jobs = [(0, 0.002, 0.0), (1, 0.002, 0.06)]
    share = GroupShare([0.5, 1.0], 0.05, lambda: 0.0)
    ends, cpu = _with_share(jobs, 1.0, share)
    assert ends == pytest.approx([0.004, 0.062])
    both = [(0, 0.002, 0.0), (1, 0.002, 0.0)]
    assert _with_share(both, 1.0, share)[0] == pytest.approx([0.004, 0.008])
    assert _with_share(both, 2.0, share)[0] == pytest.approx([0.004, 0.004])
    assert cpu.waited == {0: 0.0, 1: 0.0}  # (no wait in line: a core free for each)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 5), st.floats(1e-5, 0.01), st.floats(0.0, 0.1)),
             min_size=1, max_size=25),
    st.floats(0.05, 1.0),
    st.sampled_from([1.0, 2.0]),
)  # fmt: skip
def test_a_whole_core_changes_nothing_and_a_constant_share_stretches_each_job(
    jobs: list[tuple[int, float, float]], share: float, cores: float
) -> None:
    whole, _ = run_jobs(jobs, cores=cores, **LINE)
    ones, _ = _with_share(jobs, cores, GroupShare([1.0] * 3, 0.05, lambda: 0.0))
    assert ones == pytest.approx(whole)
    slower, _ = _with_share(jobs, cores, GroupShare([share] * 3, 0.05, lambda: 0.0))
    for (_, cost, at), end in zip(jobs, slower, strict=True):
        assert end >= at + cost / share - 1e-9  # its CPU at the group's pace, never sooner
    # one node's jobs (one after another, no one else in line): each exactly as long as
    # its CPU at that share, as if its CPU were that much more at a whole core
    alone = [(0, cost, at) for _, cost, at in jobs]
    stretched = [(0, cost / share, at) for _, cost, at in jobs]
    assert _with_share(alone, cores, GroupShare([share], 0.05, lambda: 0.0))[0] == pytest.approx(
        run_jobs(stretched, cores=cores, **LINE)[0]
    )


def _with_share(
    jobs: list[tuple[int, float, float]],
    cores: float,
    share: GroupShare,
    own: Steps | None = None,
) -> tuple[list[float], Any]:
    """``run_jobs`` on a line whose jobs run at ``share`` of their core (and ``own``: our
    group's other runnable tasks beside its busy nodes)."""

    def shares(machine: Any) -> None:
        machine.share_at = share.at
        machine.own_at = None if own is None else own.at

    return run_jobs(jobs, setup=shares, cores=cores, **LINE)


def _window(trace: dict[str, Any], pin: pytest.MonkeyPatch) -> dict[str, Any]:
    """A real window's measurements as the bench keeps them, with ``trace`` as its run-queue
    trace; the bench's machine 2 cores, no watcher."""
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32] = 600, 400
    pin.setitem(gossip_sim.WATCH, "on", False)
    pin.setattr(gossip_sim.os, "sched_getaffinity", lambda _: {0, 1})
    return {
        "p2p_call_ms": {"p50": 2.0, "p90": 3.0},
        "cpu_cores_used": {"machine": 1.5, "nodes": 0.9, "nodes_idle": 0.1,
                           "other_tasks_runnable": 3.0,
                           "node_cpu_ms_per_order_per_node_above_idle": 3.0},
        "per_order_per_node": {"messages_sent": 2.0},
        "check_timing_us": {"off_cpu": counts},
        "runnable_trace": {"step": 0.005, **trace},
    }  # fmt: skip


def test_the_bench_forecasts_the_groups_share_from_the_other_processes_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "queue-groups")
    # 20 samples of 5 ms: two 50 ms steps; the nodes' own figures are there and unused
    own, groups = [1.0] * 10 + [0.0] * 10, [[2, 1]] * 10 + [[]] * 10
    run = _window({"own": own, "groups": groups, "node_delay": [[0.04, 0.04]],
                   "node_cpu": [[0.001, 0.001]], "burst_step": 0.05}, monkeypatch)  # fmt: skip
    links = gossip_sim.calibrated(run, "cpu", TRANSPORT)
    assert links.queued and links.cores == 2.0 and links.spells is None
    assert links.node_speeds is None and links.node_delays is None and links.others is None
    assert links.group_step == 0.05
    assert links.group_shares == pytest.approx([core_share(2, [2, 1], 0.0, "groups"), 1.0])
    assert links.group_own == pytest.approx([1.0, 0.0])
    # the same window without the nodes' own figures: the same forecast
    del run["runnable_trace"]["node_delay"], run["runnable_trace"]["node_cpu"]
    assert gossip_sim.calibrated(run, "cpu", TRANSPORT).group_shares == links.group_shares
    # a window without the groups sampled: the line at whole cores
    del run["runnable_trace"]["groups"]
    assert gossip_sim.calibrated(run, "cpu", TRANSPORT).group_shares is None


@pytest.mark.parametrize(
    "trace",
    [
        {"own": [1.0], "groups": [[1], [2]]},  # lengths apart
        {"own": [1.0], "groups": [[1]], "step": 0.0},  # no step
        {"own": "x", "groups": [[1]]},
    ],
)
def test_a_malformed_groups_trace_gives_no_forecast(trace: dict[str, Any]) -> None:
    assert gossip_sim.group_shares({"step": 0.005, **trace}, 2, "groups") is None


def test_a_trace_with_negative_or_many_groups_is_bounded() -> None:
    trace = {"step": 0.05, "own": [-3.0], "groups": [[-2, 1] + [1] * 500]}
    shares, own = gossip_sim.group_shares(trace, 2, "groups") or ([], [])
    kept = [1] * (gossip_sim.MAX_GROUPS - 1)
    assert shares == pytest.approx([core_share(2, kept, 0.0, "groups")]) and own == [0.0]


def test_the_fair_forecast_shares_the_cores_with_the_other_processes_runnable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "fair-ps")
    run = _window({"own": [1.0, 0.0], "groups": [[2, 1], []], "node_delay": [[0.04]],
                   "node_cpu": [[0.001]], "burst_step": 0.05}, monkeypatch)  # fmt: skip
    links = gossip_sim.calibrated(run, "cpu", TRANSPORT)
    assert not links.queued and links.cores == 2.0 and links.spells is None
    assert links.node_speeds is None and links.node_delays is None
    # every runnable task alike: our other tasks and the other groups' together
    assert links.others_trace == [4.0, 0.0] and links.others == 3.0
    assert not links.sliced and links.timeslice == gossip_sim.TIMESLICE
    # the wallet's wait: its time off the CPU less its wait for a core (the machine's)
    assert links.post_wait == gossip_sim.wallet_asleep(run)


def test_one_transport_calibration_is_read_and_bounded(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"transport_cpu_us_per_call": {"http": 900.0, "stream": 100}}))
    assert gossip_sim.calibration(good) == pytest.approx({"http": 0.0009, "stream": 0.0001})
    for bad in ({}, {"transport_cpu_us_per_call": {"http": -1, "stream": 1}},
                {"transport_cpu_us_per_call": {"http": True, "stream": 1}},
                {"transport_cpu_us_per_call": {"http": 1e9, "stream": 1}},
                {"transport_cpu_us_per_call": {"http": "1", "stream": 1}}):  # fmt: skip
        path = tmp_path / "bad.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(SystemExit):
            gossip_sim.calibration(path)
