"""The shared machine's fair shares in time slices (``Cpu(sliced=True)``, ``LinkModel.sliced``):
a job runs on a core until it ends or its slice does, so jobs shorter than a slice handed
out together end in turn, not all together; and the waits off the CPU drawn per order from
what the nodes measured (``LinkModel.post_wait_shape``, ``peer_wait_shape``:
``forwardTiming``'s ``sentSleepUs``)."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.gossip.actions import GossipConfig
from sdex.gossip.timing import EDGES_US
from sdex.node import forwarding
from sdex.node.forwarding import SCHEDSTAT, ForwardTiming, run_queue_wait
from sdex.sim import Scenario, Sim, simulate
from sdex.sim.cpu import Cpu
from sdex.sim.links import LinkModel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

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


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity (not Linux)")
def test_the_slice_is_measured_on_this_machine() -> None:
    """Two spinning processes on one core: each waits a slice while the other runs (a
    scheduler tick or more; not a fitted constant). On a loaded machine the spinners may
    not overlap (one saw no gap: 0.0), so a few tries; a gap is over the spinners' 0.2 ms
    threshold and within the call's wall time, whatever else runs."""
    for _ in range(5):
        began = time.perf_counter()
        measured = gossip_sim.measured_slice(0.3)
        took = time.perf_counter() - began
        if measured > 0.0:
            break
    assert 0.0002 <= measured <= took


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
    await wait_for(lambda: fw._due is None, timeout=30)
    out = fw.to_json()["wallet"]
    assert out["sentWallS"] == 0.003 and out["sentQueueS"] == 0.0005
    counts = out["sentSleepUs"]
    assert isinstance(counts, list) and sum(counts) == 1
    assert EDGES_US[counts.index(1) - 1] < 1500 <= EDGES_US[counts.index(1)]


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
    monkeypatch.setitem(gossip_sim.WAIT, "mean", False)  # (``--wallet-wait on``)
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


def test_a_hand_over_reads_no_run_queue_wait() -> None:
    """The run-queue clock (a ``pread``) is read at an intake call's start and at its
    pushes' turn, not per order handed over (``add`` takes only the CPU and wall clocks)."""
    reads = [0]

    def queue() -> float:
        reads[0] += 1
        return 0.0

    fw = ForwardTiming(queue_clock=queue)
    started = fw.start()
    for _ in range(3):
        fw.handed_over()
    fw.add("peer", started, fw.last(), 3)
    assert reads[0] == 1 and fw.to_json()["peer"]["orders"] == 3


def schedstat_fds() -> dict[int, str]:
    """This process's open files that are a thread's schedstat, by fd."""
    out = {}
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # (the listing's own fd, closed by now)
            if (target := os.readlink(f"/proc/self/fd/{name}")).endswith("/schedstat"):
                out[int(name)] = target
    return out


def direct_queue_wait() -> float:
    with open(SCHEDSTAT, "rb") as f:
        return int(f.read().split()[1]) / 1e9


needs_schedstat = pytest.mark.skipif(
    not os.path.exists(SCHEDSTAT), reason=f"no {SCHEDSTAT} (not Linux, or no schedstats)"
)


@needs_schedstat
async def test_a_threads_schedstat_is_closed_when_it_ends() -> None:
    """Each thread reads its own file, kept open while it lives and closed when it ends
    (no file per thread id kept for ever)."""
    run_queue_wait()
    before = schedstat_fds()
    seen: list[float] = []
    threads = [threading.Thread(target=lambda: seen.append(run_queue_wait())) for _ in range(4)]
    for t in threads:
        t.start()
        t.join()
    assert len(seen) == 4 and min(seen) >= 0.0
    await wait_for(lambda: schedstat_fds() == before, timeout=30)


@needs_schedstat
async def test_a_stale_schedstat_is_reopened() -> None:
    """A thread's file that fails to read (here: a dead thread's, as a thread id the kernel
    gave again would have found it) is reopened once: the thread's own wait, not 0.0."""
    await wait_for(lambda: direct_queue_wait() > 0.0, timeout=30)  # (woken: queued a little)
    run_queue_wait()
    mine = f"/task/{threading.get_native_id()}/schedstat"
    [fd] = [fd for fd, target in schedstat_fds().items() if target.endswith(mine)]
    dead: list[int] = []
    t = threading.Thread(target=lambda: dead.append(os.open(SCHEDSTAT, os.O_RDONLY)))
    t.start()
    t.join()

    def gone() -> bool:  # (the ended thread reaped: its file says ESRCH)
        try:
            os.pread(dead[0], 96, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        await wait_for(gone, timeout=30)
        os.dup2(dead[0], fd)
        low = direct_queue_wait()
        assert run_queue_wait() >= low > 0.0
        assert run_queue_wait() >= low  # (and from then on)
    finally:
        os.close(dead[0])


def test_without_schedstat_the_wait_is_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where ``/proc`` does not say (not Linux), 0.0, never an error into the intake."""
    monkeypatch.setattr(forwarding, "SCHEDSTAT", "/nonexistent/schedstat")
    seen: list[float] = []
    t = threading.Thread(target=lambda: seen.append(run_queue_wait()))
    t.start()
    t.join()
    assert seen == [0.0]


async def test_a_real_node_reports_a_wallets_order_in_the_sleep_histogram(
    chain: Chain, tmp_path: Path
) -> None:
    """``/health``'s ``forwardTiming``: a wallet's order posted to a real node is one
    intake call in ``sentSleepUs`` once its pushes' turn ran, with its run-queue wait (the
    node has a peer: a node with none passes nothing on, and times nothing)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    other = node_config(c, tmp_path / "peer.db", operator=18)
    async with (
        running_node(cfg) as (node, api),
        running_node(replace(other, peers=(api.base,))),  # (the port the node bound)
    ):

        def peered() -> bool:
            return node.gossip is not None and len(node.gossip.peers) > 0

        await wait_for(peered, timeout=20)
        signed = c.sign(c.order(1, c.weth, 10**18, c.usdc, 3000 * 10**6))
        code, body = await api.post_order(signed)
        assert code == 201 and body["status"] == "open"

        async def counted() -> bool:
            _, health = await api.get("/health")
            wallet = health["forwardTiming"]["wallet"]
            return bool(sum(wallet["sentSleepUs"]) == 1)

        await wait_for(counted, timeout=10)
        _, health = await api.get("/health")
        wallet = health["forwardTiming"]["wallet"]
        assert wallet["orders"] == 1 and sum(wallet["sentSleepUs"]) == 1
        assert len(wallet["sentSleepUs"]) == len(EDGES_US) + 1
        assert 0.0 <= wallet["sentQueueS"] <= wallet["sentWallS"]
        assert sum(health["forwardTiming"]["peer"]["sentSleepUs"]) == 0


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
    # (named forwards sent at once: a forward held to ride with a later push, ``hint_hold``,
    # meets the pusher's copy meanwhile and skips its echo, whatever the cores do)
    gossip = GossipConfig(hint_hold=0.0)
    r = simulate(
        Scenario(nodes=8, orders=40, rate=4.0, seed=2, degree=8, links=links, gossip=gossip)
    )
    assert r["coverage"] == 1.0
    assert low <= r["per_order_per_node"]["echoes_skipped"] <= high
