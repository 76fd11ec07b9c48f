"""``bench/gossip.py``'s accepted rate is the orders answered 201 over the window until the
last answer: an offer of R/s reads under R by the last answer's tail alone. The bench prints
that ceiling beside it (``accepted_ceiling_per_s``), and a window offered above 1,000/s as a
capacity figure, not as issue 11's target (offers of 300-1,000/s); and the orders every node
held over the window until the last reached the last node (``delivered_to_every_node_per_s``:
the wallets' POSTs run between peers' groups, so gossip may lag the accepted rate and drain
after the window)."""

from __future__ import annotations

import asyncio
from types import ModuleType
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.test_bench_ports import bench_gossip

TAIL = 0.05  # seconds each answer takes (the last one's is the window's tail)


@pytest.fixture
def gossip(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return bench_gossip(monkeypatch)


async def test_the_ceiling_is_the_offer_over_the_window_with_its_tail(gossip: ModuleType) -> None:
    async def handler(request: web.Request) -> web.Response:
        await request.read()
        await asyncio.sleep(TAIL)  # (the server's answer time: the window's tail)
        return web.Response(status=201 if request.query.get("refuse") is None else 400)

    app = web.Application()
    app.router.add_post("/v1/orders", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        orders = [(f"0x{k:064x}", b"{}") for k in range(40)]
        async with aiohttp.ClientSession() as s:
            p = await gossip.post_paced(
                s, [f"http://127.0.0.1:{port}"], orders, [0] * len(orders), 400.0, 64
            )
    finally:
        await runner.cleanup()
    assert set(p["status"].values()) == {201}
    window = p["posting_seconds"]
    assert p["ceiling_rate"] == pytest.approx(len(orders) / window)
    assert p["achieved_rate"] == pytest.approx(p["ceiling_rate"])  # every order accepted
    assert p["last_answer_after_window"] > 0  # the last answer came after the window...
    assert p["ceiling_rate"] < 400.0  # ...so even all of them read under the offer


def _run(rate: float, accepted: int, ceiling: float, delivered: float) -> dict[str, Any]:
    return {
        "nodes": 8,
        "coverage": 1.0,
        "delivered_to_every_node_per_s": delivered,
        "offered": {
            "rate_per_s": rate,
            "accepted_per_s": accepted,
            "accepted_ceiling_per_s": ceiling,
        },
        "latency_ms": {"to_every_node": {"p99": 900.0}},
    }


def test_issue11_says_the_ceiling_and_a_capacity_window_apart(gossip: ModuleType) -> None:
    runs = [_run(1000.0, 985, 988.9, 712.3), _run(1200.0, 1031, 1191.0, 760.0)]
    target, capacity = gossip.issue11({"runs": runs}).split("; 8 nodes at 1200")
    assert "8 nodes at 1000/s offered >= 1,000/s accepted, 100% coverage: 985/s" in target
    assert "not met" in target and "988.9/s if every order offered were accepted" in target
    assert "delivered to every node: 712.3/s" in target
    assert "a capacity figure (not the target's 300-1,000/s): 1031/s accepted" in capacity
    assert "delivered to every node: 760.0/s" in capacity
    assert "met" not in capacity  # (the target is not judged above its offers)


def test_delivered_rate_counts_the_drain_and_only_orders_every_node_held(
    gossip: ModuleType,
) -> None:
    inf = float("inf")
    # 8 orders offered over 8 s (the tail included), the last at every node 2 s later
    assert gossip.delivered_rate([0.1] * 8, 8.0, 2.0) == 0.8
    assert gossip.delivered_rate([0.1] * 7 + [inf], 8.0, 2.0) == 0.7  # one never everywhere
    assert gossip.delivered_rate([0.1] * 8, 8.0, None) is None  # the drain timed out
