"""Where the simulator counts an order delivered at a node: as the real node's websocket
event leaves, in the loop turn that writes the order's pushes and after them (its send is
a task of its own, ``asyncio.wait_for`` in the node's websocket sender, spawned after the
push tasks), so behind the sender's share of every push's ``message_cost``; and a wallet's
order behind the wall time its node measured it spent off the CPU (``post_wait``)."""

from __future__ import annotations

import pytest

from sdex.sim import Scenario, Sim, simulate
from sdex.sim.cpu import Cpu
from sdex.sim.links import LinkModel


@pytest.mark.parametrize(
    ("nodes", "check_ms", "message_ms", "post_ms", "wait_ms", "first_ms"),
    [
        (2, 1.0, 0.0, 0.0, 0.0, 1.0),  # no message cost: at the hand-over
        (2, 1.0, 2.0, 0.0, 0.0, 1.0 + 1 * 1.0),  # one push (its sender's half) before it
        (3, 1.0, 2.0, 0.0, 0.0, 1.0 + 2 * 1.0),  # two pushes
        (5, 1.0, 2.0, 0.0, 0.0, 1.0 + 4 * 1.0),  # four
        (5, 2.0, 1.0, 0.5, 0.0, 0.5 + 2.0 + 4 * 0.5),  # a wallet's request besides
        (2, 1.0, 0.0, 0.0, 2.5, 1.0 + 2.5),  # the wait off the CPU after the check
        (5, 2.0, 1.0, 0.5, 2.8, 0.5 + 2.0 + 2.8 + 4 * 0.5),  # ... before the pushes leave
    ],
)
def test_an_order_is_delivered_after_its_nodes_pushes_leave(
    nodes: int, check_ms: float, message_ms: float, post_ms: float, wait_ms: float,
    first_ms: float,
) -> None:  # fmt: skip
    """The wallet's node (cores of their own, idle between orders): its delivery is its
    request, its check, the wall time it measured a wallet's order off the CPU, and the
    sending half of each push to its mesh (every other node at this size), in that order."""
    links = LinkModel(latency_median=0.01, latency_sigma=0.0, check_cost=check_ms / 1000,
                      message_cost=message_ms / 1000, post_cost=post_ms / 1000,
                      post_wait=wait_ms / 1000)  # fmt: skip
    r = simulate(Scenario(nodes=nodes, orders=10, rate=2.0, seed=3, degree=nodes, links=links))
    assert r["coverage"] == 1.0
    assert r["mesh_size"]["max"] == nodes - 1
    assert r["to_first_ms"]["p50"] == pytest.approx(first_ms, abs=0.05)
    assert r["to_first_ms"]["p99"] == pytest.approx(first_ms, abs=0.05)


@pytest.mark.parametrize(
    ("cores", "jobs", "finish"),
    [
        # a core each: the held job ends its hold after its CPU; the node's next job waits
        (0.0, [(0, 1.0, 2.0), (0, 1.0, 0.0)], {0: 4.0}),
        (0.0, [(0, 1.0, 2.0), (1, 1.0, 0.0)], {0: 3.0, 1: 1.0}),
        # one shared core: a node held off the CPU leaves the core to the others
        (1.0, [(0, 1.0, 2.0), (1, 3.0, 0.0)], {0: 4.0, 1: 4.0}),
        (1.0, [(0, 0.0, 1.0), (1, 1.0, 0.0)], {0: 1.0, 1: 1.0}),
    ],
)
def test_a_held_node_waits_off_the_cpu(
    cores: float, jobs: list[tuple[int, float, float]], finish: dict[int, float]
) -> None:
    """``Cpu.submit``'s ``hold``: wall time after a job's CPU, the node's loop stalled (its
    later jobs wait), no core used (the other nodes' share is not cut)."""
    sim = Sim()
    cpu = Cpu(sim, cores)
    ended: dict[int, float] = {}
    for node, cost, hold in jobs:
        cpu.submit(node, cost, lambda n=node: ended.__setitem__(n, sim.now), hold=hold)
    sim.run(100.0)
    assert ended == pytest.approx(finish)
