"""What the real nodes measure for the simulator (``sdex.gossip.timing``) and how
``bench/gossip_sim.py`` turns it into the simulator's cost of a new order."""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

from sdex.gossip.timing import EDGES_US, GC_PAUSES, CheckTiming, Histogram

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim


def test_histogram_buckets_by_upper_edge() -> None:
    h = Histogram()
    h.add(EDGES_US[0])  # on an edge: that bucket
    h.add(EDGES_US[0] + 1)
    h.add(10**9, times=3)  # beyond the last edge: the overflow bucket
    counts = h.to_json()
    assert len(counts) == len(EDGES_US) + 1
    assert counts[0] == 1 and counts[1] == 1 and counts[-1] == 3 and sum(counts) == 5


def test_a_chunks_time_is_shared_among_its_new_orders() -> None:
    t = CheckTiming()
    t.add(4, cpu_s=0.002, wall_s=0.004)  # 500 us CPU, 1,000 us wall a new order
    t.add(0, cpu_s=0.001, wall_s=0.001)  # only copies held already: not a new order's cost
    j = t.to_json()
    cpu_bucket = next(i for i, e in enumerate(EDGES_US) if e >= 500)
    wall_bucket = next(i for i, e in enumerate(EDGES_US) if e >= 1000)
    assert j["cpuUs"][cpu_bucket] == 4 and sum(j["cpuUs"]) == 4
    assert j["wallUs"][wall_bucket] == 4 and sum(j["wallUs"]) == 4
    assert j["offCpuUs"][cpu_bucket] == 4 and sum(j["offCpuUs"]) == 4  # 1,000 - 500 us


def test_garbage_collections_are_counted_by_generation() -> None:
    GC_PAUSES.install()
    GC_PAUSES.install()  # once a process however many nodes it runs
    before = GC_PAUSES.to_json()
    gc.collect(1)
    after = GC_PAUSES.to_json()
    assert after["byGeneration"][1] == before["byGeneration"][1] + 1  # type: ignore[index]
    assert sum(after["pausesUs"]) == sum(before["pausesUs"]) + 1  # type: ignore[arg-type]


def test_the_measured_shape_keeps_the_mean_and_the_spread() -> None:
    counts = [0] * (len(EDGES_US) + 1)
    k = EDGES_US.index(476)
    counts[k], counts[k + 4] = 90, 10  # nine in ten orders at ~440 us, one in ten at ~880
    run = {"check_timing_us": {"edges": list(EDGES_US), "cpu": counts}}
    measured = gossip_sim.cost_shape(run)
    assert measured is not None
    points, mean = measured
    assert len(points) == gossip_sim.SHAPE_POINTS
    assert sum(points) / len(points) == pytest.approx(1.0, abs=0.01)
    assert max(points) / min(points) == pytest.approx(2.0, rel=0.01)  # four buckets: x2
    assert mean == pytest.approx(0.9 * 440e-6 + 0.1 * 880e-6, rel=0.05)
    scaled = gossip_sim.shape_for(run, 4 * mean, "scaled")
    added = gossip_sim.shape_for(run, 4 * mean, "added")
    assert scaled == points
    assert added is not None and max(added) - min(added) == pytest.approx(
        (max(points) - min(points)) / 4, rel=0.01
    )  # only the measured quarter of the order's cost varies
    assert gossip_sim.shape_for(run, mean, "constant") is None
    assert gossip_sim.cost_shape({"check_timing_us": {"edges": list(EDGES_US), "cpu": [1]}}) is None
