"""What a new order costs a node before it passes the order on (``sdex.node.forwarding``,
``forwardTiming`` in ``/health``), and how ``bench/gossip_sim.py`` gives it to the simulator
(``--split measured``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from sdex.gossip.timing import EDGES_US
from sdex.node.forwarding import ForwardTiming
from tests.conftest import Chain
from tests.nodeutil import Cluster, wait_for
from tests.test_node import E6, E18, ask

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import gossip_sim
import sim_orders


def test_a_calls_time_runs_from_its_start_to_its_last_hand_over() -> None:
    fw = ForwardTiming()
    started = fw.start()
    fw.handed_over()
    fw.handed_over()
    fw.add("peer", started, fw.last(), 2)
    fw.add("wallet", started, fw.last(), 0)  # nothing handed over: nothing counted
    out = fw.to_json()
    assert out["peer"]["orders"] == 2 and out["wallet"]["orders"] == 0
    assert out["wallet"]["cpuS"] == 0 and out["wallet"]["wallS"] == 0
    assert out["peer"]["wallS"] >= 0 and out["peer"]["cpuS"] >= 0
    assert fw.handed == 2


async def test_the_pushes_writes_are_timed_at_the_turn_after_they_were_spawned() -> None:
    """``sentCpuS``: from the same start to the loop's turn after the one in which gossip
    spawned the pushes (``spawned``), once per turn for all its orders
    (tests/test_forward_turns.py: turn by turn)."""
    fw = ForwardTiming()
    turns = []

    def spawned() -> None:  # what gossip's ``call_soon`` runs: its tasks' first steps next
        asyncio.get_running_loop().call_soon(lambda: turns.append(fw._due is not None))
        fw.spawned()
        turns.append(fw._due is not None)

    started = fw.start()
    asyncio.get_running_loop().call_soon(spawned)  # (``Gossip.announce``, at the hand-over)
    fw.handed_over()
    fw.add("peer", started, fw.last(), 1)
    fw.handed_over()
    fw.add("wallet", started, fw.last(), 1)
    assert fw.to_json()["peer"]["sentCpuS"] == 0  # not yet: that is the next turns'

    async def written() -> bool:
        return len(turns) == 2 and fw._due is None

    await wait_for(written, timeout=10)
    assert turns == [True, True]  # the pushes' turn came before it was taken
    out = fw.to_json()
    for source in ("peer", "wallet"):
        assert out[source]["sentCpuS"] >= out[source]["cpuS"] >= 0
        assert out[source]["sentWallS"] >= out[source]["wallS"] > 0


@pytest.mark.parametrize("every", [1, 2])
async def test_health_counts_what_orders_cost_before_they_are_passed_on(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every: int
) -> None:
    """Two real nodes: node 0's wallet orders are counted as a wallet's, the copies node 1
    takes from node 0 as a peer's; the sums grow with the orders. One intake call in
    ``every`` is timed (``$SDEX_FORWARD_EVERY``, cpu30): ``orders`` counts the timed calls'
    orders, ``calls`` every call, ``timedCalls`` the timed ones (the first, then every
    ``every``-th); with 1, every order, as before."""
    monkeypatch.setenv("SDEX_FORWARD_EVERY", str(every))  # (the nodes' processes inherit it)
    c = chain
    async with Cluster(c, tmp_path, [[1], [0]]) as net:

        async def timing(i: int) -> dict[str, Any]:
            _, h = await net.api(i).get("/health")
            return dict(h["forwardTiming"])

        first = await timing(0)
        assert first["wallet"]["orders"] == 0 and first["wallet"]["every"] == every

        async def peered() -> bool:  # (orders are timed only while there is a peer)
            _, h = await net.api(0).get("/health")
            return len(h["gossip"]["peers"]) > 0

        await wait_for(peered, timeout=30)
        readings = []
        for k, n in ((0, 2), (2, 5)):
            hashes = set()
            for j in range(k, n):
                signed = c.sign(ask(c, 1 + j, E18, (3000 + j) * E6))
                code, body = await net.api(0).post_order(signed)
                assert code == 201
                hashes.add(body["orderHash"])

            async def passed_on(n: int = n, hashes: set[str] = hashes) -> bool:
                p = (await timing(1))["peer"]
                if every == 1:
                    return int(p["orders"]) >= n
                # (1 in ``every`` chunks timed: all held there, the first chunk's sums in)
                held = hashes <= await net.open_hashes(1)
                return held and p["orders"] > 0 and p["cpuS"] <= p["sentCpuS"]

            await wait_for(passed_on, timeout=30)
            readings.append((await timing(0), await timing(1)))
        for (wallet, peer), n in zip(readings, (2, 5), strict=True):
            timed = -(-n // every)  # (wallet calls 0, every, 2 x every, ... of n)
            w = wallet["wallet"]
            assert (w["calls"], w["timedCalls"], w["orders"]) == (n, timed, timed)
            assert wallet["peer"]["orders"] == 0 and peer["wallet"]["orders"] == 0
            p = peer["peer"]
            assert p["timedCalls"] == -(-p["calls"] // every) and 0 < p["orders"] <= n
            if every == 1:
                assert p["orders"] == n
        sides = (("wallet", 0), ("peer", 1)) if every == 1 else (("wallet", 0),)
        for side, i in sides:  # (a peer's chunks are timed 1 in ``every``: may not grow)
            first, second = readings[0][i][side], readings[1][i][side]
            assert 0 < first["cpuS"] < second["cpuS"]
            assert 0 < first["wallS"] < second["wallS"]
            assert first["cpuS"] <= first["sentCpuS"] < second["sentCpuS"]  # (to the pushes)
            assert first["wallS"] < first["sentWallS"] < second["sentWallS"]
        for _, peer in readings:
            p = peer["peer"]
            assert 0 < p["cpuS"] <= p["sentCpuS"] and 0 < p["wallS"] < p["sentWallS"]


def _run(forward: dict[str, Any] | None) -> dict[str, Any]:
    threads = {
        "MainThread": {"above_idle": 3.0},
        "sdex-store": {"above_idle": 0.4},
        "sdex-ecdsa": {"above_idle": 0.1},
    }
    counts = [0] * (len(EDGES_US) + 1)
    counts[22] = 100  # (check_timing: any shape; ``measured`` does not use its mean)
    run: dict[str, Any] = {
        "cpu_cores_used": {"threads": threads},
        "check_timing_us": {"edges": list(EDGES_US), "cpu": counts},
    }
    if forward is not None:
        run["forward_timing"] = forward
    return run


def test_the_simulator_takes_the_measured_split() -> None:
    """``measured``: before the order is passed on, what the nodes measured from the
    intake's start to the hand-over (a peer's order; the ECDSA worker's CPU with it); a
    wallet's order the receiving half of its HTTP call and what its intake cost more than
    a peer's; the rest after. The nodes' CPU adds up to what was measured."""
    forward = {
        "peer": {"orders": 70, "cpu_ms_per_order": 0.9},
        "wallet": {"orders": 10, "cpu_ms_per_order": 1.5},
    }
    run = _run(forward)
    http = {"http": 0.0008, "stream": 0.0001}
    order = 0.0035 - 3 * 0.0001
    before, post, after = gossip_sim.split_costs(run, http, order, "measured")
    assert before == pytest.approx(0.0009 + 0.0001)
    assert post == pytest.approx(0.0004 + 0.0006)
    assert before + after + post / gossip_sim.NODES == pytest.approx(order)
    # ``sent``: to the pushes' writes, less the sender's half of the messages' transport
    run["per_order_per_node"] = {
        "messages_sent": 3.0,
        "http_messages_sent": 0.0,
        "stream_frames_sent": 3.0,
    }
    run["cpu_cores_used"]["node_cpu_ms_per_order_per_node_above_idle"] = 3.5
    for source, ms in (("peer", 2.0), ("wallet", 2.4)):
        forward[source]["sent_cpu_ms_per_order"] = ms
    before, post, after = gossip_sim.split_costs(run, http, order, "sent")
    assert before == pytest.approx(0.002 - 3 * 0.0001 / 2 + 0.0001)
    assert post == pytest.approx(0.0004 + 0.0004)
    assert before + after + post / gossip_sim.NODES == pytest.approx(order)
    # runs from before it was measured: the ``threads`` split
    older = _run(None)
    assert gossip_sim.split_costs(older, http, order, "measured") == gossip_sim.split_costs(
        older, http, order, "threads"
    )


def test_the_window_of_forward_timing_is_two_readings_apart() -> None:
    def health(wallet: tuple[int, float], peer: tuple[int, float]) -> dict[str, Any]:
        return {
            "forwardTiming": {
                "wallet": {"orders": wallet[0], "cpuS": wallet[1], "wallS": 2 * wallet[1]},
                "peer": {"orders": peer[0], "cpuS": peer[1], "wallS": 2 * peer[1]},
            }
        }

    h0 = [health((1, 0.001), (3, 0.003)), health((0, 0.0), (4, 0.004))]
    h1 = [health((3, 0.005), (9, 0.009)), health((2, 0.004), (12, 0.010))]
    out = sim_orders.forward_timing(h0, h1)
    assert out is not None
    assert out["wallet"]["orders"] == 4 and out["wallet"]["cpu_ms_per_order"] == 2.0
    assert out["wallet"]["wall_ms_per_order"] == 4.0
    assert out["peer"]["orders"] == 14
    assert out["peer"]["cpu_ms_per_order"] == pytest.approx(12 / 14, abs=1e-3)
    assert sim_orders.forward_timing([{}], [{}]) is None  # nodes from before


@pytest.mark.parametrize(
    ("per", "want"),
    [
        ({"messages_sent": 3.2, "http_messages_sent": 1.0}, 3.2),
        ({"messages_sent": 3.2}, 3.2),  # (a run without the older key: no KeyError)
        ({"http_messages_sent": 2.5}, 2.5),  # (a run from before streams)
    ],
)
def test_messages_sent_of_runs_old_and_new(per: dict[str, float], want: float) -> None:
    assert gossip_sim.messages_sent({"per_order_per_node": per}) == want
