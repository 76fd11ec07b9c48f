"""The shared machine's fair shares in time slices (``Cpu(sliced=True)``, ``LinkModel.sliced``):
a job runs on a core until it ends or its slice does, so jobs shorter than a slice handed
out together end in turn, not all together; and the waits off the CPU drawn per order from
what the nodes measured (``LinkModel.post_wait_shape``, ``peer_wait_shape``:
``forwardTiming``'s ``sentSleepUs``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from sdex.gossip.timing import EDGES_US
from sdex.node.forwarding import ForwardTiming, run_queue_wait
from sdex.sim import Scenario, Sim, simulate
from sdex.sim.cpu import Cpu
from sdex.sim.links import LinkModel
from tests.nodeutil import wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import gossip_sim
import sim_orders


def ends(cpu: Cpu, sim: Sim, jobs: list[tuple[int, float]]) -> dict[int, list[float]]:
    ended: dict[int, list[float]] = {}
    for node, cost in jobs:
        cpu.submit(node, cost, lambda n: ended.setdefault(n, []).append(sim.now), node)
    sim.run(100.0)
    return ended


@pytest.mark.parametrize(
    ("others", "jobs", "sliced", "finish"),
    [
        # six 1 ms jobs on two cores, nothing else runnable: in pairs, 1, 2 and 3 ms
        (0.0, [(k, 0.001) for k in range(6)], True,
         {0: [0.001], 1: [0.001], 2: [0.002], 3: [0.002], 4: [0.003], 5: [0.003]}),
        # processor sharing (the model before): all six together at 3 ms
        (0.0, [(k, 0.001) for k in range(6)], False, {k: [0.003] for k in range(6)}),
        # a node with two jobs keeps its core for the second (its slice not over)
        (0.0, [(0, 0.001), (0, 0.001), (1, 0.001), (2, 0.001)], True,
         {0: [0.001, 0.002], 1: [0.001], 2: [0.002]}),
        # jobs longer than the 4 ms slice go behind the one waiting
        (0.0, [(0, 0.006), (1, 0.006), (2, 0.001)], True, {0: [0.006], 1: [0.007], 2: [0.005]}),
        # two other runnable tasks: four nodes on two cores run at 4/6 of one (their fair
        # shares together), two at a time; then two nodes at 2/4
        (2.0, [(k, 0.001) for k in range(4)], True,
         {0: [0.0015], 1: [0.0015], 2: [0.0035], 3: [0.0035]}),
    ],
)  # fmt: skip
def test_sliced_cores_end_short_jobs_in_turn_at_their_fair_shares(
    others: float, jobs: list[tuple[int, float]], sliced: bool, finish: dict[int, list[float]]
) -> None:
    sim = Sim()
    cpu = Cpu(sim, 2.0, others=others, timeslice=0.004, sliced=sliced)
    assert ends(cpu, sim, jobs) == {k: pytest.approx(v) for k, v in finish.items()}


def test_the_slice_is_measured_on_this_machine() -> None:
    """Two spinning processes on one core: each waits a slice while the other runs (a
    scheduler tick or more; not a fitted constant)."""
    assert 0.0005 < gossip_sim.measured_slice(0.3) < 0.05


async def test_forward_timing_keeps_each_calls_wait_when_its_loop_was_not_runnable() -> None:
    """Per intake call, the span to the pushes' writes less the loop's CPU and its run-queue
    wait (``sentSleepUs``; ``sentQueueS`` the run-queue part): a wallet's 3 ms of which 1 ms
    on the CPU and 0.5 ms waiting for a core leave 1.5 ms."""
    clock = {"cpu": 0.0, "wall": 0.0, "queue": 0.0}
    fw = ForwardTiming(lambda: clock["wall"], lambda: clock["cpu"], lambda: clock["queue"])
    started = fw.start()
    fw.handed_over()
    fw.add("wallet", started, fw.last(), 1)
    fw.spawned()
    clock.update(cpu=0.001, wall=0.003, queue=0.0005)  # (before the loop's next turn)
    await wait_for(lambda: fw._due is None, timeout=5)
    out = fw.to_json()["wallet"]
    assert out["sentWallS"] == 0.003 and out["sentQueueS"] == 0.0005
    counts = out["sentSleepUs"]
    assert isinstance(counts, list) and sum(counts) == 1
    assert EDGES_US[counts.index(1) - 1] < 1500 <= EDGES_US[counts.index(1)]
    assert run_queue_wait() >= 0.0  # (this thread's, from /proc)


def test_the_window_keeps_the_sleep_histogram_and_the_simulator_draws_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two readings apart, every node's ``sentSleepUs`` added; the simulator's wallet
    waits are that histogram's values (``wait_shape``), each wallet's order drawing one."""
    size = len(EDGES_US) + 1

    def health(orders: int, at_1ms: int, at_8ms: int) -> dict[str, object]:
        sleep = [0] * size
        sleep[EDGES_US.index(951)], sleep[EDGES_US.index(7611)] = at_1ms, at_8ms
        row = {"orders": orders, "cpuS": 0.0, "wallS": 0.0, "sentCpuS": 0.0, "sentWallS": 0.0,
               "sentQueueS": 0.0, "sentSleepUs": sleep}  # fmt: skip
        return {"forwardTiming": {"wallet": row, "peer": row}}

    h0 = [health(10, 5, 5), health(0, 0, 0)]
    h1 = [health(60, 30, 25), health(50, 40, 10)]
    out = sim_orders.forward_timing(h0, h1)
    assert out is not None
    counts = out["wallet"]["sent_sleep_us"]
    assert isinstance(counts, list) and sum(counts) == 95
    monkeypatch.setitem(gossip_sim.SPLIT, "model", "sent")
    waits = gossip_sim.wait_shape({"forward_timing": out}, "wallet")
    assert waits is not None and len(set(waits)) == 2
    assert 0.0008 < min(waits) < 0.001 < 0.0064 < max(waits) < 0.0077
    monkeypatch.setitem(gossip_sim.WAIT, "wallet", False)
    assert gossip_sim.wait_shape({"forward_timing": out}, "wallet") is None

    def first_ms(shape: list[float] | None) -> list[float]:
        links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=0.001,
                          post_wait=0.004, post_wait_shape=shape)  # fmt: skip
        r = simulate(Scenario(nodes=2, orders=40, rate=2.0, seed=3, degree=2, links=links))
        return [r["to_first_ms"]["p50"], r["to_first_ms"]["p99"]]

    assert first_ms(None) == pytest.approx([5.0, 5.0], abs=0.05)  # the mean, every order
    low, high = first_ms(waits)
    assert low < 2.0 and high > 7.5  # the measured spread


def test_real_nodes_report_the_sleep_histogram() -> None:
    """``run_queue_wait`` reads this thread's schedstat (a real file; 0.0 elsewhere)."""
    before = run_queue_wait()
    asyncio.run(asyncio.sleep(0))
    assert run_queue_wait() >= before


@pytest.mark.parametrize(("sliced", "low", "high"), [(True, 0.2, 2.0), (False, 0.0, 0.1)])
def test_nodes_waiting_for_a_core_skip_the_echoes_of_the_first_ones(
    sliced: bool, low: float, high: float
) -> None:
    """8 nodes on two cores, a 1 ms check: in slices, the first two of those handed an order
    at once pass it on while the others wait for a core, and those hear the copies before
    their own check and send none back (the real nodes skipped 0.35-0.5 echoes per order
    and node); sharing the cores all at once, every copy crosses (0.03-0.05)."""
    links = LinkModel(latency_median=0.0001, latency_sigma=0.3, bandwidth=1e9,
                      check_cost=0.001, known_cost=0.0, message_cost=0.0002, cores=2.0,
                      others=0.0, timeslice=0.004, sliced=sliced)  # fmt: skip
    r = simulate(Scenario(nodes=8, orders=40, rate=4.0, seed=2, degree=8, links=links))
    assert r["coverage"] == 1.0
    assert low <= r["per_order_per_node"]["echoes_skipped"] <= high
