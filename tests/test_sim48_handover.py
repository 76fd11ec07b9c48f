"""The intake's first wait, its signatures' hand-over (sim48, issue 15): a real node times the
loop's CPU from the intake's start to there (``forwardTiming``'s ``handCpuS``, ``handWallS``,
``handQueueS``); the simulator runs that share of a check as one job and the rest as another,
queued behind the jobs that came meanwhile, as the real loop reads what arrived before the
intake goes on; ``bench/gossip_sim.py`` gives it the measured share, the same rule for a
peer's group and a wallet's order."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from sdex.gossip.actions import GossipConfig
from sdex.sim.links import LinkModel
from sdex.sim.network import Network
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, E6, E18, ask
from tests.test_sim_measure import _run_for_links

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim

ORDER = {"hash": "0x" + "a" * 64}


def _net(**kw: float) -> tuple[Network, dict[str, float], dict[str, float]]:
    """Two nodes, a core each, an order's check 1 s of CPU; when each order was passed on
    at node 0, and when a job of 0.5 s posted to node 0 at t=0.1 ended."""
    links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=1.0, known_cost=0.0, **kw)
    net = Network(2, GossipConfig(), links, seed=1)
    passed: dict[str, float] = {}
    other: dict[str, float] = {}

    def delivered(node: Any, order_hash: str) -> None:
        if node.index == 0:
            passed.setdefault(order_hash, net.sim.now)

    net.on_delivered = delivered
    job = (0, 0.5, lambda: other.setdefault("ended", net.sim.now))
    net.sim.at(0.1, net.cpu.submit, *job)
    return net, passed, other


def test_a_peers_check_resumes_after_its_hand_over_behind_what_came_meanwhile() -> None:
    net, passed, other = _net(handover_share=0.25)
    dst, src = net.nodes
    net.check(dst, dst.core.receive(src.node_id, [ORDER]), answer=None)
    net.sim.run(until=10.0)
    assert other["ended"] == pytest.approx(0.75)  # after the check's first quarter
    assert passed[ORDER["hash"]] == pytest.approx(1.5)  # its rest after that job


def test_a_wallets_order_resumes_after_its_hand_over_too() -> None:
    net, passed, other = _net(post_handover_share=0.5)
    net.nodes[0].post(ORDER)
    net.sim.run(until=10.0)
    assert other["ended"] == pytest.approx(1.0)
    assert passed[ORDER["hash"]] == pytest.approx(1.5)


def test_no_share_is_one_job_as_before() -> None:
    net, passed, other = _net()
    net.nodes[0].post(ORDER)
    net.sim.run(until=10.0)
    assert passed[ORDER["hash"]] == pytest.approx(1.0)
    assert other["ended"] == pytest.approx(1.5)


def test_the_bench_gives_the_measured_share_of_what_it_charges() -> None:
    """A peer's: its CPU to the hand-over over ``check_cost``; a wallet's: the receiving half
    of its HTTP call and its CPU to the hand-over over ``post_cost + check_cost``."""
    timing = {
        "peer": {"orders": 10, "hand_cpu_ms_per_order": 0.3},
        "wallet": {"orders": 2, "hand_cpu_ms_per_order": 0.5},
    }
    links = LinkModel(check_cost=0.0012, post_cost=0.0008)
    transport = {"http": 0.0006, "stream": 0.0001}
    run: dict[str, Any] = {"forward_timing": timing}
    assert gossip_sim.handover_shares(run, transport, links) == (0.25, 0.4)
    assert gossip_sim.handover_shares({"forward_timing": {}}, transport, links) == (0.0, 0.0)
    before = {"forward_timing": {s: {"orders": t["orders"]} for s, t in timing.items()}}
    gossip_sim.HANDOVER["ms"] = (0.3, 0.5)  # (nodes from before: measured in other windows)
    try:
        assert gossip_sim.handover_shares(before, transport, links) == (0.25, 0.4)
        gossip_sim.HANDOVER["on"] = False
        assert gossip_sim.handover_shares(run, transport, links) == (0.0, 0.0)
    finally:
        gossip_sim.HANDOVER.update(on=True, ms=None)


async def test_a_real_node_times_its_peers_checks_to_the_signatures_hand_over(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer's single new order and a chunk of six: ``forwardTiming`` has each call's span
    to its signatures' hand-over, within its span to the orders' hand-over to gossip."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        node.forwarding.every = 1  # (every call timed)
        one = c.sign(ask(c, CAROL, E18 // 100, E6)).to_json()
        assert await node.submit_many_from_peer([one], "ab" * 32) == ["accepted"]
        chunk = [c.sign(ask(c, CAROL, E18 // 100, (500 + i) * E6)).to_json() for i in range(6)]
        assert await node.submit_many_from_peer(chunk, "ab" * 32) == ["accepted"] * 6
        _, health = await api.get("/health")
        peer = health["forwardTiming"]["peer"]
        assert peer["orders"] == 7
        assert 0 < peer["handCpuS"] <= peer["cpuS"]
        assert 0 < peer["handWallS"] <= peer["wallS"]
        assert 0 <= peer["handQueueS"] <= peer["handWallS"]


def _posted(wake: list[float] | None, orders: int) -> dict[str, float]:
    """Node 0 of two on a shared machine (in line for 2 cores), ``orders`` wallet's orders
    posted at t=0, 1 s of CPU each: when each was passed on."""
    links = LinkModel(
        latency_median=0.01, latency_sigma=0.0, check_cost=1.0, known_cost=0.0, cores=2.0,
        queued=True, wake_shape=wake,
    )  # fmt: skip
    net = Network(2, GossipConfig(), links, seed=1)
    passed: dict[str, float] = {}

    def delivered(node: Any, order_hash: str) -> None:
        if node.index == 0:
            passed.setdefault(order_hash, net.sim.now)

    net.on_delivered = delivered
    hashes = [f"0x{k:064x}" for k in range(orders)]
    for h in hashes:
        net.nodes[0].post({"hash": h})
    net.sim.run(until=10.0)
    return {h: passed[h] for h in hashes}


def test_a_job_its_node_starts_idle_waits_a_draw_of_the_woken_tasks_lateness() -> None:
    """The loop woken by the request waits (the probe's measured lateness, one value here)
    before its first job; the next order, read in the same run, does not wait again."""
    first, second = _posted([0.25], 2).values()
    assert first == pytest.approx(1.25)
    assert second == pytest.approx(2.25)
    assert list(_posted(None, 1).values()) == [pytest.approx(1.0)]


def test_the_queue_forecast_draws_the_probes_lateness_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--core-wait queue`` (the default) gives the simulator the probe's wake-up lateness
    of the same window (``--wake on``, the default); ``--wake off``: none."""
    late = [k / 1e5 for k in range(1000)]
    timing = {"wallet": {"sent_cpu_ms_per_order": 2.0}, "peer": {"sent_cpu_ms_per_order": 1.4}}
    run = _run_for_links({"forward_timing": timing, "runnable_trace": {"wakeup_late_s": late}})
    monkeypatch.setitem(gossip_sim.CORE_WAIT, "mode", "queue")
    transport = {"http": 0.0002, "stream": 0.0001}
    links = gossip_sim.calibrated(run, "cpu", transport)
    assert links.queued and links.wake_shape == gossip_sim.wakeup_shape(run, always=True)
    assert links.wake_shape is not None and len(links.wake_shape) == 200
    monkeypatch.setitem(gossip_sim.HANDOVER, "wake", False)
    assert gossip_sim.calibrated(run, "cpu", transport).wake_shape is None
