"""The simulator: the same gossip core at small scale, deterministic by its seed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.sim import Scenario, Sim, simulate
from sdex.sim.cpu import Cpu, group_share


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


def finish_times(sim: Sim, cpu: Cpu, jobs: list[tuple[int, float]]) -> dict[int, float]:
    """When each node's last job ended, the jobs submitted at time 0 in this order."""
    ended: dict[int, float] = {}
    for node, cost in jobs:
        cpu.submit(node, cost, lambda n: ended.__setitem__(n, sim.now), node)
    sim.run(100.0)
    return ended


@pytest.mark.parametrize(
    ("cores", "background", "jobs", "finish"),
    [
        # a core each: every node's job takes its own cost
        (0.0, 0.0, [(0, 1.0), (1, 1.0)], {0: 1.0, 1: 1.0}),
        # one node's jobs run one after another, in arrival order
        (0.0, 0.0, [(0, 1.0), (0, 0.5)], {0: 1.5}),
        # two busy nodes on one core run at half speed each
        (1.0, 0.0, [(0, 1.0), (1, 1.0)], {0: 2.0, 1: 2.0}),
        # ... and on two cores at full speed; a node never gets more than one core
        (2.0, 0.0, [(0, 1.0), (1, 1.0)], {0: 1.0, 1: 1.0}),
        (4.0, 0.0, [(0, 1.0)], {0: 1.0}),
        # other work takes a core of two: as if one core were left
        (2.0, 1.0, [(0, 1.0), (1, 1.0)], {0: 2.0, 1: 2.0}),
        # the short job ends at 1.0 (half speed); the long one then runs alone: 1.0 + 1.5
        (1.0, 0.0, [(0, 0.5), (1, 2.0)], {0: 1.0, 1: 2.5}),
    ],
)
def test_node_cpus_share_the_machine(
    cores: float, background: float, jobs: list[tuple[int, float]], finish: dict[int, float]
) -> None:
    sim = Sim()
    cpu = Cpu(sim, cores, background)
    assert finish_times(sim, cpu, jobs) == pytest.approx(finish)


def test_bootstrapped_network_fills_its_tables_by_peer_exchange() -> None:
    """Cold tables (node 0 every other node's only seed, as bench/gossip.py starts real
    nodes): peer exchange makes every node know every other one before orders are posted,
    meshes stay within the core's bounds, and every order reaches every node."""
    r = simulate(Scenario(nodes=12, orders=20, seed=4, seeds="bootstrap"))
    assert r["coverage"] == 1.0
    mesh = r["mesh_size"]
    assert isinstance(mesh, dict) and 4 <= mesh["mean"] <= mesh["max"] <= 8
    warm = simulate(Scenario(nodes=12, orders=20, seed=4, degree=12))
    assert warm["coverage"] == 1.0


def test_work_after_acceptance_delays_neither_delivery_nor_the_push() -> None:
    """``after_cost`` (the store writer, the events) follows the order's push and delivery
    (its websocket event goes out in the turn that passes it on): orders half a second
    apart are delivered as soon as without it. What the node does next waits for it: a push
    held by a flush timer (``flush_delay``, 0 by default) runs when the CPU is free, after
    that work, at every hop. A wallet's ``post_cost`` delays every node's delivery once."""
    from sdex.gossip.actions import GossipConfig
    from sdex.sim.links import LinkModel

    def to_each_p50(after: float, flush: float = 0.0, post: float = 0.0) -> float:
        links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=0.001,
                          after_cost=after, post_cost=post)  # fmt: skip
        gossip = GossipConfig(flush_delay=flush)
        sc = Scenario(nodes=10, orders=10, rate=2.0, seed=5, degree=10, links=links, gossip=gossip)
        r = simulate(sc)
        assert r["coverage"] == 1.0
        each = r["to_each_ms"]
        assert isinstance(each, dict)
        return float(each["p50"])

    assert to_each_p50(0.02) == pytest.approx(to_each_p50(0.0), abs=0.05)
    held = to_each_p50(0.02, flush=0.002) - to_each_p50(0.0, flush=0.002)
    assert held >= 20.0 - 2.0 - 0.5  # the held push (due at 2 ms) waited for the 20 ms
    assert to_each_p50(0.0, post=0.005) - to_each_p50(0.0) == pytest.approx(5.0, abs=0.05)


@pytest.mark.parametrize(
    ("cores", "background", "jobs", "finish"),
    [
        # two cores, three 1 ms jobs at once: two run to their end, then the third
        (2.0, 0.0, [(0, 0.001), (1, 0.001), (2, 0.001)], {0: 0.001, 1: 0.001, 2: 0.002}),
        # a job longer than the 3 ms slice goes to the back of the queue after it
        (1.0, 0.0, [(0, 0.005), (1, 0.001)], {0: 0.006, 1: 0.004}),
        # other work takes half the machine: one core at half speed
        (1.0, 0.5, [(0, 0.001)], {0: 0.002}),
    ],
)
def test_time_sliced_cores_end_short_jobs_one_after_another(
    cores: float, background: float, jobs: list[tuple[int, float]], finish: dict[int, float]
) -> None:
    """With a time slice the shared machine runs each job on a free core for at most the
    slice (as an operating system does), so jobs handed out together end in turn."""
    sim = Sim()
    cpu = Cpu(sim, cores, background, timeslice=0.003)
    assert finish_times(sim, cpu, jobs) == pytest.approx(finish)


@pytest.mark.parametrize(
    ("others", "jobs", "finish"),
    [
        # alone on two cores with nothing else runnable: a core of its own
        (0.0, [(0, 0.001)], {0: 0.001}),
        # two other tasks runnable: three tasks share two cores, 2/3 of a core each
        (2.0, [(0, 0.001)], {0: 0.0015}),
        # two nodes and two other tasks on two cores: half a core each
        (2.0, [(0, 0.001), (1, 0.001)], {0: 0.002, 1: 0.002}),
        # a busy machine slows a waking node by its share, it does not stall it: 1.9 other
        # tasks leave it 2/2.9 of a core (the old model, cores less the others' CPU use,
        # left it 0.1 of one: 10 ms)
        (1.9, [(0, 0.001)], {0: 0.00145}),
    ],
)
def test_cfs_gives_every_runnable_task_an_equal_share(
    others: float, jobs: list[tuple[int, float]], finish: dict[int, float]
) -> None:
    sim = Sim()
    cpu = Cpu(sim, 2.0, others=others)
    assert finish_times(sim, cpu, jobs) == pytest.approx(finish)


def test_a_measured_load_trace_is_replayed() -> None:
    """A 1.5 s job from t=0 on two cores: alone for the trace's first second (1 s done), 2/7
    of a core in the next while six other tasks run (0.286 s done), alone again after it:
    the last 0.214 s end at 2.214; outside the trace ``others`` (here 0) holds."""
    sim = Sim()
    cpu = Cpu(sim, 2.0, others=0.0, trace=[0.0, 6.0, 0.0], step=1.0)
    cpu.trace_start = 0.0
    ended: list[float] = []
    cpu.submit(0, 1.5, lambda: ended.append(sim.now))
    sim.run(100.0)
    assert ended == pytest.approx([1.0 + 1.0 + (1.5 - 1.0 - 2 / 7)])


def test_nodes_come_up_when_their_processes_did() -> None:
    """Bootstrapped nodes that start at different times (as the real processes answer
    /health one after another): a node up before its seed keeps dialling it, and every
    node still learns every other one and gets every order."""
    starts = [1.5, 0.0, 0.4, 0.8, 1.2, 2.0, 0.2, 0.6]  # node 0, every other's seed, up late
    sc = Scenario(nodes=8, orders=10, rate=4.0, seed=3, seeds="bootstrap", starts=starts)
    r = simulate(sc)
    assert r["coverage"] == 1.0
    mesh = r["mesh_size"]
    assert isinstance(mesh, dict) and 4 <= mesh["mean"] <= mesh["max"] <= 7


@pytest.mark.parametrize(
    ("ours", "groups", "share"),
    [
        (3.0, [], 2.0),  # alone: every core (one a task)
        (1.0, [], 1.0),
        (9.0, [1, 1, 1], 0.5),  # three other busy groups: a quarter of the machine each
        (9.0, [1], 1.0),  # one other group of one task: it takes one core, we the other
        (1.0, [5], 1.0),  # one task of ours: a core, however many the other group has
        (9.0, [5, 5], 2 / 3),
        (0.5, [5, 5], 0.5),  # less than its equal share: what it wants
    ],
)
def test_cfs_groups_share_the_machine_first(ours: float, groups: list[int], share: float) -> None:
    assert group_share(2.0, ours, groups) == pytest.approx(share)


def test_other_groups_slow_the_nodes_group_as_a_whole() -> None:
    """Two nodes, nothing else of theirs runnable, three other busy groups (a task each):
    the nodes' group gets half a core, a quarter each, so 1 ms jobs take 4 ms."""
    sim = Sim()
    cpu = Cpu(sim, 2.0, others=0.0, trace=[0.0], step=1.0, groups=[[1, 1, 1]])
    cpu.trace_start = 0.0
    assert finish_times(sim, cpu, [(0, 0.001), (1, 0.001)]) == pytest.approx({0: 0.004, 1: 0.004})


def test_a_measured_cost_shape_spreads_delivery_but_leaves_the_mesh() -> None:
    """``cost_shape``: each new order's intake costs ``check_cost`` times a draw from the
    measured multiples (mean 1). A shape of one point is the constant cost; a wide one
    leaves the mesh and the orders' targets as the seed made them (its draws come from a
    random source of their own) and stretches the slowest deliveries."""
    from sdex.sim.links import LinkModel

    def run(shape: list[float] | None) -> dict[str, object]:
        links = LinkModel(latency_median=0.0005, latency_sigma=0.1, check_cost=0.002,
                          cores=2.0, others=0.0, cost_shape=shape)  # fmt: skip
        return simulate(Scenario(nodes=8, orders=40, rate=4.0, seed=2, degree=8, links=links))

    constant, one, wide = run(None), run([1.0]), run([0.5, 0.5, 0.5, 2.5])
    same = {k for k in constant if k not in ("links", "wall_seconds")}
    assert {k: one[k] for k in same} == {k: constant[k] for k in same}
    assert wide["coverage"] == constant["coverage"] == 1.0
    assert wide["mesh_size"] == constant["mesh_size"]
    slow, fast = wide["to_all_ms"], constant["to_all_ms"]
    assert isinstance(slow, dict) and isinstance(fast, dict)
    assert slow["p99"] > 1.2 * fast["p99"]


def test_a_watcher_stamps_each_nodes_event_in_turn() -> None:
    """``watch_cost``: deliveries are stamped by one more task reading every node's event
    one after another, as the real bench's watcher does. Each node's delivery is later by
    at least one event's cost (its own), the last of an order's 10 by about all of them
    on an idle network (cores of their own: the watcher is not slowed by the nodes)."""
    from sdex.sim.links import LinkModel

    def figures(watch: float) -> tuple[float, float]:
        links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=0.001,
                          watch_cost=watch)  # fmt: skip
        r = simulate(Scenario(nodes=10, orders=10, rate=2.0, seed=5, degree=10, links=links))
        assert r["coverage"] == 1.0
        first, every = r["to_first_ms"], r["to_all_ms"]
        assert isinstance(first, dict) and isinstance(every, dict)
        return float(first["p50"]), float(every["p50"])

    first, every = figures(0.0)
    first_w, every_w = figures(0.002)
    assert first_w - first == pytest.approx(2.0, abs=0.15)
    assert 2.0 - 0.15 <= every_w - every <= 20.0 + 0.15


def test_a_batch_of_held_copies_skips_the_check_queue() -> None:
    """As ``Gossip.run_check``: a peer's batch of copies all held is answered once their
    ``known_cost`` is spent (the node's CPU runs the jobs before it), not after the batches
    queued for the intake before it; a batch with a new order, an empty one and one from a
    banned sender wait their turn."""
    from sdex.gossip.actions import GossipConfig
    from sdex.sim.links import LinkModel
    from sdex.sim.network import Network

    links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=1.0, known_cost=0.001)
    net = Network(3, GossipConfig(), links, seed=1)
    dst, src, bad = net.nodes
    held = {"hash": "0x" + "11" * 32}
    dst.add(held)
    answered: dict[int, float] = {}
    net._finish = lambda node, core, check, answer, results: answered.setdefault(  # type: ignore[method-assign]
        check.id, net.sim.now
    )
    dst.core.peers.penalize(bad.node_id, 1000)
    assert dst.core.peers.is_banned(bad.node_id)
    checks = {}
    for name, sender, orders in [
        ("new", src, [{"hash": "0x" + "22" * 32}]),
        ("mixed", src, [held, {"hash": "0x" + "33" * 32}]),
        ("empty", src, []),
        ("banned", bad, [held]),
        ("held", src, [held, held]),
    ]:
        check = dst.core.receive(sender.node_id, orders)
        checks[name] = check.id
        net.check(dst, check, answer=None)
    net.sim.run(until=60.0)
    at = {name: answered[i] for name, i in checks.items()}
    assert at["new"] == pytest.approx(1.0)
    assert at["held"] == pytest.approx(1.002)  # behind the new order's CPU time only
    assert at["mixed"] == pytest.approx(2.003)  # queued: the held batch's CPU went first
    assert at["held"] < at["empty"] and at["held"] < at["banned"]


def test_what_a_job_schedules_runs_before_the_jobs_waiting() -> None:
    """As an event loop runs the callbacks and tasks a callback scheduled before it reads the
    messages that came meanwhile: jobs a job queues ``first`` as it ends go ahead of the jobs
    already waiting (in the order they were queued), the others behind them; ``first`` from
    outside a job of that node is queued as any other."""
    sim = Sim()
    cpu = Cpu(sim)
    done: list[tuple[str, float]] = []

    def mark(name: str) -> None:
        done.append((name, sim.now))

    def ends() -> None:
        mark("a")
        cpu.submit(0, 0.1, mark, "next", first=True)
        cpu.submit(0, 0.1, mark, "then", first=True)
        cpu.submit(0, 0.1, mark, "last")

    cpu.submit(0, 1.0, ends)
    cpu.submit(0, 0.5, mark, "waiting")
    cpu.submit(0, 0.5, mark, "outside", first=True)
    sim.run(until=10.0)
    assert [n for n, _ in done] == ["a", "next", "then", "waiting", "outside", "last"]
    assert [t for _, t in done] == pytest.approx([1.0, 1.1, 1.2, 1.7, 2.2, 2.3])
