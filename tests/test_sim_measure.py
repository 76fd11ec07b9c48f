"""What the real nodes measure for the simulator (``sdex.gossip.timing``) and how
``bench/gossip_sim.py`` turns it into the simulator's cost of a new order."""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Any

import pytest

from sdex.gossip.timing import EDGES_US, GC_PAUSES, CheckTiming, Histogram, thread_cpu

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


def test_each_threads_cpu_is_read_by_name() -> None:
    """``threadCpu``: a thread that burns CPU shows it under its own name, apart from the
    main thread's; run and wait times are seconds and never go back."""
    import threading
    import time

    if not Path("/proc/self/task").is_dir():
        pytest.skip("no /proc on this system")
    stop = threading.Event()

    def burn() -> None:
        end = time.thread_time() + 0.05
        while time.thread_time() < end:
            pass
        stop.wait(60)

    t = threading.Thread(target=burn, name="sdex-burner")
    before = thread_cpu()
    t.start()
    try:
        deadline = time.monotonic() + 30
        while thread_cpu().get("sdex-burner", [0.0])[0] < 0.04 and time.monotonic() < deadline:
            time.sleep(0.01)
        after = thread_cpu()
    finally:
        stop.set()
        t.join()
    assert "sdex-burner" not in before
    assert 0.04 <= after["sdex-burner"][0] < 5.0
    assert after["MainThread"][0] >= before["MainThread"][0]
    assert after["MainThread"][1] >= before["MainThread"][1] >= 0.0


def _run_with_threads(threads: dict[str, float]) -> dict[str, Any]:
    """A real window's figures as ``split_costs`` reads them: the check's measured CPU (all
    new orders 500 us), each thread's ms per order per node above idle, and 3 messages sent
    per order per node."""
    counts = [0] * (len(EDGES_US) + 1)
    counts[next(i for i, e in enumerate(EDGES_US) if e >= 500)] = 100
    return {
        "check_timing_us": {"edges": list(EDGES_US), "cpu": counts},
        "cpu_cores_used": {"threads": {k: {"above_idle": v} for k, v in threads.items()}},
        "per_order_per_node": {"messages_sent": 3.0, "http_messages_sent": 0.0},
    }


def test_a_new_orders_cpu_is_split_as_its_threads_spent_it() -> None:
    """``messages``: the check before the order is passed on, the loop's other CPU its
    messages', the store writer's after; ``threads``: the loop's CPU before, the store
    writer's after; ``check``: the check before, the rest after; ``none``: all before.
    Whatever the split, the nodes' CPU adds up to what was measured: every node's before,
    after and messages, and the wallet's request at one node of the eight."""
    run = _run_with_threads({"MainThread": 2.0, "sdex-store": 0.4, "sdex-ecdsa": 0.1})
    http = {"http": 0.0008, "stream": 0.0001}
    order = 0.0025 - 3 * 0.0001  # a new order at a node, its messages at the bare cost out
    check = gossip_sim.cost_shape(run)[1]  # type: ignore[index]
    assert 0.0004 < check < 0.0006  # the bucket holding 500 us
    before, post, after = gossip_sim.split_costs(run, http, order, "messages")
    assert post == pytest.approx(0.0004)
    assert before == pytest.approx(check + 0.0001)  # the ECDSA thread's with it
    assert after == pytest.approx(0.0004)  # the store writer's
    message = gossip_sim.loop_message_cost(run, http, before)
    loop = before + post / gossip_sim.NODES + 3 * message
    assert loop == pytest.approx(0.0021)  # the loop's (and the ECDSA thread's) CPU
    before, post, after = gossip_sim.split_costs(run, http, order, "threads")
    assert after == pytest.approx(0.0004)
    assert before == pytest.approx(order - 0.0004 - post / gossip_sim.NODES)
    before, post, after = gossip_sim.split_costs(run, http, order, "check")
    assert before == pytest.approx(check + 0.0001)
    for split in ("threads", "check", "none"):  # messages at the bare transport's cost
        before, post, after = gossip_sim.split_costs(run, http, order, split)
        assert before + after + post / gossip_sim.NODES == pytest.approx(order)
    assert gossip_sim.split_costs(run, http, order, "none") == (order, 0.0, 0.0)
    older = {**run, "cpu_cores_used": {}}  # a run from before the threads were measured
    assert gossip_sim.split_costs(older, http, order, "messages") == (order, 0.0, 0.0)


def test_a_p99_over_200_orders_cannot_be_bounded_above() -> None:
    """0.99 ** 200 = 13% > 2.5%: all 200 may lie below the true p99; 400 bound it."""
    import sim_stats

    assert sim_stats.rank(0.99, 200) == 197  # the third slowest, as the benches take it
    lo, hi = sim_stats.quantile_ci(200, 0.99)
    assert hi is None and lo < 197
    lo, hi = sim_stats.quantile_ci(400, 0.99)
    assert hi is not None and lo < sim_stats.rank(0.99, 400) < hi <= 399
    assert sim_stats.quantile_ci(100, 0.5) == (39, 60)  # the textbook median interval


def test_the_quantile_interval_covers_as_often_as_it_says() -> None:
    """Uniform samples (true p99 = 0.99): the interval holds it in about 95% of draws."""
    import random

    import sim_stats

    rng = random.Random(5)
    n, trials, held = 600, 400, 0
    lo, hi = sim_stats.quantile_ci(n, 0.99)
    assert hi is not None
    for _ in range(trials):
        s = sorted(rng.random() for _ in range(n))
        held += s[lo] <= 0.99 <= s[hi]
    assert 0.9 <= held / trials <= 0.995


def test_the_simulated_p99_is_taken_over_all_seeds_orders() -> None:
    import sim_stats

    sims = [{"to_all_s": [k / 1000 for k in range(100)]} for _ in range(4)]
    sims[0]["to_all_s"][-1] = float("inf")  # a missed order counts as the slowest
    tail = sim_stats.pooled(sims)
    assert tail["n"] == 400 and tail["value"] == 98.0 and tail["max"] is None
    real = sim_stats.tail_figure([None, 0.01, 0.02])
    assert real["value"] is None and real["ci95"] == [20.0, None]


def test_the_p90_to_every_node_is_compared_over_all_seeds_orders() -> None:
    """sim12: the comparison has the p90 to every node (stable to 10% over 800 orders where
    the p99 is not), the simulator's over all its seeds' orders together."""
    sims = [
        {"to_all_s": [k / 1000 for k in range(100)], "to_all_ms": {"p50": 50.0, "p99": 99.0},
         "to_each_ms": {"p50": 10.0}, "coverage": 1.0, "mesh_size": {"mean": 6.0},
         "per_order_per_node": {"order_copies_pushed": 3.0, "messages": 2.5}}
        for _ in range(4)
    ]  # fmt: skip
    sim = gossip_sim.pooled_mean(sims)
    assert sim["to_all_p90_pooled"]["value"] == 89.0 and sim["to_all_p90_pooled"]["n"] == 400
    every = {"p50": 25.0, "p90": 44.5, "p99": 99.0}
    run = {
        "latency_ms": {"to_every_node": every, "to_each_node": {"p50": 13.0},
                       "accepted_by_first_node": {"p50": 2.6, "p90": 7.2, "p99": 44.0}},
        "per_order_per_node": {"order_copies_sent": 2.6, "messages_sent": 2.5},
        "coverage": 1.0,
    }  # fmt: skip
    p90 = gossip_sim.compare(run, sim)["to_every_node_p90_ms"]
    assert p90["real"] == 44.5 and p90["simulated"] == 89.0 and p90["ratio"] == 0.5
    assert not p90["within_20_percent"]


@pytest.mark.parametrize(
    ("wallet", "split", "on", "wait_s"),
    [
        # the quiet run of 07:40 at 4/s: 5.0707 ms to the pushes' turn, 2.2208 of it CPU
        ({"orders": 400, "sent_cpu_ms_per_order": 2.2208, "sent_wall_ms_per_order": 5.0707},
         "sent", True, 0.0028499),
        ({"orders": 400, "sent_cpu_ms_per_order": 2.0, "sent_wall_ms_per_order": 2.0},
         "sent", True, 0.0),
        ({"orders": 400, "sent_cpu_ms_per_order": 2.2, "sent_wall_ms_per_order": 2.1},
         "sent", True, 0.0),  # (rounding: never a negative wait)
        ({"orders": 0, "sent_cpu_ms_per_order": 0.0, "sent_wall_ms_per_order": 0.0},
         "sent", True, 0.0),  # no wallet's order in the window
        ({"orders": 400, "sent_cpu_ms_per_order": 2.2208, "sent_wall_ms_per_order": 5.0707},
         "threads", True, 0.0),  # another split: its CPU is not charged to that turn
        ({"orders": 400, "sent_cpu_ms_per_order": 2.2208, "sent_wall_ms_per_order": 5.0707},
         "sent", False, 0.0),  # --wallet-wait off
        (None, "sent", True, 0.0),  # a run from before it was measured
    ],
)  # fmt: skip
def test_a_wallets_wait_off_the_cpu_is_taken_from_the_nodes(
    wallet: dict[str, float] | None, split: str, on: bool, wait_s: float,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """``LinkModel.post_wait``: the wall time a wallet's order spent at its node off the
    loop's CPU to the turn that wrote its pushes (``forwardTiming``), the window's mean."""
    monkeypatch.setitem(gossip_sim.SPLIT, "model", split)
    monkeypatch.setitem(gossip_sim.WAIT, "wallet", on)
    run = {} if wallet is None else {"forward_timing": {"wallet": wallet}}
    assert gossip_sim.wallet_wait(run) == pytest.approx(wait_s, abs=1e-7)


@pytest.mark.parametrize(
    ("core", "wait_s"),
    [(True, 0.0003499), (False, 0.0028499)],  # mean-less-core; mean (the default): all
)
def test_a_wallets_mean_wait_leaves_out_its_wait_for_a_core(
    core: bool, wait_s: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sim11: the simulated machine makes a wallet's order wait for a core itself, so with
    ``--wallet-wait mean-less-core`` the hold at its node is the time off the CPU less that
    wait (``sent_queue_ms_per_order``); ``mean`` (the default) keeps the fourth session's."""
    monkeypatch.setitem(gossip_sim.SPLIT, "model", "sent")
    monkeypatch.setitem(gossip_sim.WAIT, "wallet", True)
    monkeypatch.setitem(gossip_sim.WAIT, "core", core)
    wallet = {"orders": 400, "sent_cpu_ms_per_order": 2.2208, "sent_wall_ms_per_order": 5.0707,
              "sent_queue_ms_per_order": 2.5}  # fmt: skip
    assert gossip_sim.wallet_wait({"forward_timing": {"wallet": wallet}}) == pytest.approx(
        wait_s, abs=1e-7
    )


def test_the_probes_wakeups_give_the_core_wait_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--core-wait probe``: 200 equally likely waits, the probe's wake-up lateness's
    quantiles; ``share`` (the default) or too few wake-ups: None (the shared machine)."""
    late = [k / 1e5 for k in range(1000)]  # 0 to 9.99 ms
    run = {"runnable_trace": {"wakeup_late_s": late[::-1]}}
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "probe", False)
    assert gossip_sim.wakeup_shape(run) is None
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "probe", True)
    shape = gossip_sim.wakeup_shape(run)
    assert shape is not None and len(shape) == 200 and shape == sorted(shape)
    assert shape[0] == late[2] and shape[-1] == late[997] and shape[100] == late[502]
    short = {"runnable_trace": {"wakeup_late_s": late[: gossip_sim.MIN_WAKEUPS - 1]}}
    assert gossip_sim.wakeup_shape(short) is None and gossip_sim.wakeup_shape({}) is None


def test_the_real_run_takes_every_option_bench_gossip_reads() -> None:
    """The real run's arguments are ``bench/gossip.py``'s own defaults with this bench's
    cluster, rate and window (an option added there cannot be missing here)."""
    args = gossip_sim.argparse.Namespace(
        rate=[4.0, 40.0], seconds=10.0, min_orders=400, workdir=None
    )
    ns = gossip_sim.real_args(args)
    assert set(vars(gossip_sim.real.parser().parse_args([]))) == set(vars(ns))
    assert ns.nodes == [gossip_sim.NODES] and ns.rate == [4.0, 40.0] and ns.min_orders == 400
    assert ns.node_root == gossip_sim.real.ROOT and ns.idle == 0.0 and not ns.sample


def test_spans_draw_each_sources_wait_from_the_checks_shape(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--core-wait spans`` (sim12): a wallet's order and a peer's chunk draw their wait
    off the CPU from the real checks' shape (all or nothing: most none), scaled to their
    own source's measured mean (``forwardTiming``), so most wallets' orders wait nothing
    where the mean model held every one; ``share`` (the default) or too few checks: None."""
    counts = [0] * (len(EDGES_US) + 1)
    counts[0], counts[32] = 600, 400  # 60% no wait, 40% about 6.7 ms
    timing = {
        "wallet": {"sent_cpu_ms_per_order": 2.0, "sent_wall_ms_per_order": 7.5},
        "peer": {"sent_cpu_ms_per_order": 1.4, "sent_wall_ms_per_order": 12.2},
    }
    run = {"check_timing_us": {"off_cpu": counts}, "forward_timing": timing}
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "share")
    assert gossip_sim.spans_wait_shapes(run) is None
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "spans")
    shapes = gossip_sim.spans_wait_shapes(run)
    assert shapes is not None
    for shape, mean_s in zip(shapes, (0.0055, 0.0108), strict=True):
        assert sum(shape) / len(shape) == pytest.approx(mean_s, rel=1e-3)
        assert sorted(shape)[len(shape) // 2] < 0.0005  # the median order: next to none
    few = {"check_timing_us": {"off_cpu": [gossip_sim.MIN_WAKEUPS - 1] + [0] * len(EDGES_US)}}
    assert gossip_sim.spans_wait_shapes(few | {"forward_timing": timing}) is None
    assert gossip_sim.spans_wait_shapes({"check_timing_us": {"off_cpu": counts}}) is None
    links = gossip_sim.calibrated(_run_for_links(run), "cpu", {"http": 0.0002, "stream": 0.0001})
    assert links.cores == 0.0 and links.post_wait == 0.0
    assert links.post_wait_shape == shapes[0] and links.peer_wait_shape == shapes[1]


def _run_for_links(run: dict[str, Any]) -> dict[str, Any]:
    """``run`` with the rest of what ``calibrated`` reads of a real 4/s window (a sim12 run's
    figures, rounded)."""
    cpu = {
        "nodes": 0.18,
        "machine": 1.72,
        "nodes_idle": 0.07,
        "watcher": 0.01,
        "node_cpu_ms_per_order_per_node": 5.75,
        "node_cpu_ms_per_order_per_node_above_idle": 3.56,
        "threads": {"MainThread": {"above_idle": 2.88}, "sdex-store": {"above_idle": 0.32}},
    }
    timing = run["forward_timing"]
    timing = {k: {"orders": 800, "cpu_ms_per_order": 0.7, "wall_ms_per_order": 1.3} | v
              for k, v in timing.items()}  # fmt: skip
    return run | {
        "p2p_call_ms": {"p50": 1.0, "p90": 2.0},
        "cpu_cores_used": cpu,
        "forward_timing": timing,
        "per_order_per_node": {"messages_sent": 2.5, "stream_frames_sent": 2.45},
        "offered": {"rate_per_s": 4.0, "orders_accepted": 800,
                    "post_latency_ms": {"p50": 5.0}},
    }  # fmt: skip
