"""``sdex.sim.spells``: a node's waits for a core come in spells (sim13), every job it would
start in one waiting for its end; and ``bench/gossip_sim.py --core-wait spells``, which
takes the spells' share and lengths from the real checks' time off the CPU."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip.timing import EDGES_US
from sdex.sim import LinkModel, Scenario, simulate
from sdex.sim.cpu import Cpu
from sdex.sim.events import Sim
from sdex.sim.spells import SpellModel, Spells

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim


@pytest.mark.parametrize(
    ("share", "lengths", "scope", "error"),
    [
        (0.4, (0.01,), "node", None),
        (0.0, (0.01, 0.02), "machine", None),  # no spells at all
        (0.99, (1e-6,), "node", None),
        (1.0, (0.01,), "node", "share"),  # always in a spell: never runs
        (-0.1, (0.01,), "node", "share"),
        (math.nan, (0.01,), "node", "share"),
        (0.4, (), "node", "empty"),
        (0.4, (0.0,), "node", "above 0"),
        (0.4, (0.01, -0.01), "node", "above 0"),
        (0.4, (math.inf,), "node", "above 0"),
        (0.4, (math.nan,), "node", "above 0"),
        (0.4, (0.01,), "core", "scope"),
    ],
)
def test_a_spell_model_takes_only_what_can_be_measured(
    share: float, lengths: tuple[float, ...], scope: str, error: str | None
) -> None:
    if error is None:
        SpellModel(share, lengths, scope)
        return
    with pytest.raises(ValueError, match=error):
        SpellModel(share, lengths, scope)


MODEL = SpellModel(0.4, (0.002, 0.005, 0.01, 0.03))


def test_the_same_seed_gives_the_same_spells_whichever_node_asks_first() -> None:
    times = [k * 0.0037 for k in range(400)]
    a, b = Spells(MODEL, seed=5), Spells(MODEL, seed=5)
    one = [[a.free_at(n, t) for t in times] for n in range(3)]
    other = [[b.free_at(n, t) for t in times] for n in reversed(range(3))][::-1]
    assert one == other
    assert one != [[Spells(MODEL, seed=6).free_at(n, t) for t in times] for n in range(3)]
    assert one[0] != one[1]  # each node its own spells
    machine = Spells(SpellModel(MODEL.share, MODEL.lengths, "machine"), seed=5)
    assert len({tuple(machine.free_at(n, t) for t in times) for n in range(3)}) == 1


def test_the_spells_cover_the_measured_share_of_the_time_and_a_spell_holds_every_job() -> None:
    spells = Spells(MODEL, seed=1)
    step, n = 0.0005, 200_000  # 100 s
    ends = [spells.free_at(0, k * step) for k in range(n)]
    waiting = [e - k * step for k, e in enumerate(ends) if e > k * step]
    assert len(waiting) / n == pytest.approx(MODEL.share, abs=0.03)
    # inside one spell every instant waits for the same end: the waits are correlated
    k = next(k for k, e in enumerate(ends) if e > k * step)
    assert ends[k + 1] == ends[k] or ends[k] <= (k + 1) * step
    assert max(waiting) <= max(MODEL.lengths) + 1e-12
    assert Spells(SpellModel(0.0, (0.01,)), seed=1).free_at(0, 3.0) == 3.0


def _finishes(costs: list[float], gaps: list[float], free_at: Any) -> list[float]:
    """When each of one node's jobs ends (submitted ``gaps`` apart, costing ``costs``)."""
    sim = Sim()
    cpu = Cpu(sim, free_at=free_at)
    out: list[float] = []
    t = 0.0
    for cost, gap in zip(costs, gaps, strict=True):
        t += gap
        sim.at(t, cpu.submit, 0, cost, lambda: out.append(sim.now))
    sim.run(1e9)
    return out


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.0, 0.9),
    st.lists(st.floats(1e-5, 0.05), min_size=1, max_size=5),
    st.lists(st.tuples(st.floats(1e-5, 0.01), st.floats(0.0, 0.02)), min_size=1, max_size=40),
    st.integers(0, 1000),
)
def test_spells_never_shorten_a_wait(
    share: float, lengths: list[float], jobs: list[tuple[float, float]], seed: int
) -> None:
    """Every job of a node ends no earlier with spells than without (a spell only delays a
    start), and a job is held no longer than the longest spell per job before it."""
    costs, gaps = [c for c, _ in jobs], [g for _, g in jobs]
    plain = _finishes(costs, gaps, None)
    spells = Spells(SpellModel(share, tuple(lengths)), seed)
    held = _finishes(costs, gaps, spells.free_at)
    assert len(held) == len(plain) == len(jobs)
    for k, (a, b) in enumerate(zip(plain, held, strict=True)):
        assert b >= a - 1e-12
        assert b <= a + (k + 1) * max(lengths) + 1e-9


def test_a_job_that_would_start_in_a_spell_starts_at_its_end() -> None:
    spells = Spells(SpellModel(0.5, (0.02,)), seed=3)
    t = next(k * 0.001 for k in range(10_000) if spells.free_at(0, k * 0.001) > k * 0.001)
    end = spells.free_at(0, t)
    sim = Sim()
    cpu = Cpu(sim, free_at=spells.free_at)
    done: list[float] = []
    sim.at(t, cpu.submit, 0, 0.001, lambda: done.append(sim.now))
    sim.at(t, cpu.submit, 0, 0.001, lambda: done.append(sim.now))  # behind it, same spell
    sim.run(1.0)
    assert done == [pytest.approx(end + 0.001), pytest.approx(end + 0.002)]
    shared = Cpu(Sim(), cores=2.0, free_at=spells.free_at)  # a shared machine: its own model
    assert shared.free_at is None


def test_the_simulator_with_spells_is_deterministic_and_slower() -> None:
    def figures(spells: SpellModel | None) -> dict[str, Any]:
        links = LinkModel(latency_median=0.001, check_cost=0.001, spells=spells)
        r = simulate(Scenario(nodes=8, orders=40, rate=4.0, seed=2, degree=7, links=links))
        return {k: r[k] for k in ("coverage", "to_all_ms", "to_each_ms")}

    model = SpellModel(0.4, (0.005, 0.01, 0.02))
    with_spells = figures(model)
    assert with_spells == figures(model)
    none = figures(None)
    assert with_spells["coverage"] == none["coverage"] == 1.0
    assert with_spells["to_all_ms"]["p50"] > none["to_all_ms"]["p50"]
    assert with_spells["to_all_ms"]["p99"] > none["to_all_ms"]["p99"]


def test_the_bench_takes_the_spells_from_the_real_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32], counts[36] = 600, 300, 100  # 60% none, 40% about 5.9 and 11.7 ms
    run = {"check_timing_us": {"off_cpu": counts}}
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "share")
    assert gossip_sim.spells_model(run) is None
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "spells")
    model = gossip_sim.spells_model(run)
    assert model is not None and model.scope == "node"
    assert model.share == pytest.approx(0.4)
    assert sorted(model.lengths)[len(model.lengths) // 2] == pytest.approx(0.00587, rel=0.01)
    assert max(model.lengths) == pytest.approx(0.01174, rel=0.01)
    few = {"check_timing_us": {"off_cpu": [gossip_sim.MIN_WAKEUPS - 1] + [0] * len(EDGES_US)}}
    assert gossip_sim.spells_model(few) is None
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "spells-machine")
    machine = gossip_sim.spells_model(run)
    assert machine is not None and machine.scope == "machine"
    assert machine.lengths == model.lengths
