"""The simulated intake takes peers' checks as the real one does (``sdex.gossip.checks.
PeerChecks``): the checks that waited while a group was in the intake go through together, in
one job of the node's CPU, up to ``intake_chunk`` orders (a large check split over groups);
their orders are handed over together and the checks answered together, at the group's end."""

from __future__ import annotations

from typing import Any

import pytest

from sdex.gossip.actions import GossipConfig
from sdex.sim.links import LinkModel
from sdex.sim.network import Network


def _run(chunk: int, batches: dict[str, int]) -> tuple[dict[str, float], dict[str, float], Any]:
    """Node 0 gets each named batch of new orders at t=0, in order (1 s of CPU an order);
    when each check was answered, and when each order was passed on."""
    links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=1.0, known_cost=0.0)
    net = Network(2, GossipConfig(intake_chunk=chunk), links, seed=1)
    dst, src = net.nodes
    answered: dict[int, float] = {}
    finish = net._finish

    def seen(node: Any, core: Any, check: Any, answer: Any, results: list[str]) -> None:
        answered.setdefault(check.id, net.sim.now)
        finish(node, core, check, answer, results)

    net._finish = seen  # type: ignore[method-assign]
    passed: dict[str, float] = {}
    net.on_delivered = lambda node, h: passed.setdefault(h, net.sim.now)
    ids = {}
    for name, n in batches.items():
        orders = [{"hash": f"0x{name}{k:063x}"} for k in range(n)]
        check = dst.core.receive(src.node_id, orders)
        ids[name] = check.id
        net.check(dst, check, answer=None)
    net.sim.run(until=60.0)
    return {name: answered[i] for name, i in ids.items()}, passed, net


def test_checks_that_waited_go_through_the_intake_together() -> None:
    answered, passed, net = _run(32, {"a": 1, "b": 1, "c": 1})
    assert answered["a"] == pytest.approx(1.0)  # alone: its own order's CPU
    # b and c waited while a's group was in: one group, answered together at its end
    assert answered["b"] == pytest.approx(3.0)
    assert answered["c"] == pytest.approx(3.0)
    assert passed[f"0xb{0:063x}"] == pytest.approx(3.0)  # passed on with c's, not before
    assert (net.groups, net.merged) == (2, 1)


def test_a_group_takes_at_most_a_chunk_of_orders() -> None:
    answered, passed, net = _run(2, {"a": 1, "b": 3, "c": 1})
    assert answered["a"] == pytest.approx(1.0)
    # then b's first 2 (3.0), b's last with c's (5.0): both answered then
    assert passed[f"0xb{1:063x}"] == pytest.approx(3.0)
    assert answered["b"] == pytest.approx(5.0)
    assert answered["c"] == pytest.approx(5.0)
    assert (net.groups, net.merged) == (3, 1)
