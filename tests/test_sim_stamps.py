"""A node stamps each order event with its monotonic clock as it publishes it
(``metaData.publishedAt``): the bench times every hop by it (bench/gossip.py's
``node_stamped``) instead of by its one watcher process alone. The stamp is the event's
only: the order's record (the POST's answer, ``GET /v1/orders/{hash}``) keeps its shape."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from sdex.sim import Scenario, simulate
from sdex.sim.links import LinkModel
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, E6, E18, ask


async def test_an_added_event_carries_when_its_node_published_it(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with (
        running_node(node_config(c, tmp_path / "n.db")) as (_node, api),
        api.session.ws_connect(api.base + "/v1/ws") as ws,
    ):
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "hello"
        s = c.sign(ask(c, ALICE, E18, 3000 * E6))
        before = time.monotonic()
        code, body = await api.post_order(s)
        assert code == 201, body
        while True:
            ev = json.loads((await ws.receive(timeout=10)).data)
            if ev.get("type") == "order" and ev["event"] == "added":
                break
        got = time.monotonic()
        meta = ev["metaData"]
        assert meta["orderHash"] == s.hash_hex
        assert before <= meta["publishedAt"] <= got  # (one machine: one monotonic clock)
        assert "publishedAt" not in body["metaData"]
        assert "publishedAt" not in (await api.get(f"/v1/orders/{s.hash_hex}"))[1]["metaData"]


@pytest.mark.parametrize(
    ("nodes", "check_ms", "message_ms", "post_ms", "wait_ms"),
    [
        (2, 1.0, 0.0, 0.0, 0.0),
        (5, 1.0, 2.0, 0.0, 0.0),  # the pushes' sending halves come after the stamp
        (5, 2.0, 1.0, 0.5, 2.8),  # and a wallet's wait off the CPU too
    ],
)
def test_the_simulator_stamps_where_the_node_does(
    nodes: int, check_ms: float, message_ms: float, post_ms: float, wait_ms: float
) -> None:
    """``LinkModel.published``: an order counts as delivered at a node when its check ends
    and the node hands it over (the real node's ``publishedAt``), not after its pushes
    leave: the wallet's node at its request and check alone, whatever its pushes and its
    wait off the CPU; no later node later than after its pushes."""
    kw = {"latency_median": 0.01, "latency_sigma": 0.0, "check_cost": check_ms / 1000,
          "message_cost": message_ms / 1000, "post_cost": post_ms / 1000,
          "post_wait": wait_ms / 1000}  # fmt: skip
    at_pushes = simulate(Scenario(nodes=nodes, orders=10, rate=2.0, seed=3, degree=nodes,
                                  links=LinkModel(**kw)))  # fmt: skip
    stamped = simulate(Scenario(nodes=nodes, orders=10, rate=2.0, seed=3, degree=nodes,
                                links=LinkModel(**kw, published=True)))  # fmt: skip
    assert stamped["coverage"] == 1.0
    assert stamped["to_first_ms"]["p50"] == pytest.approx(post_ms + check_ms, abs=0.05)
    pushes = (nodes - 1) * message_ms / 2  # (cores of their own: every other node a push)
    first = at_pushes["to_first_ms"]["p50"]
    assert first == pytest.approx(post_ms + check_ms + wait_ms + pushes, abs=0.05)
    for figure in ("to_all_ms", "to_each_ms"):  # (a last node with no push left: the same)
        assert stamped[figure]["p50"] <= at_pushes[figure]["p50"]
