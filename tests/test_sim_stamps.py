"""A node stamps each order event with its clock (Unix time) as it publishes it
(``metaData.publishedAt``) and, on the websocket, as it writes it (``sentAt``): the bench
times every hop by them (bench/gossip.py's ``node_stamped``) instead of by its one watcher
process alone. The stamps are the event's only: the order's record (the POST's answer,
``GET /v1/orders/{hash}``) keeps its shape."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, E6, E18, ask


async def test_an_added_event_carries_when_its_node_published_and_sent_it(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with (
        running_node(node_config(c, tmp_path / "n.db")) as (_node, api),
        api.session.ws_connect(api.base + "/v1/ws") as ws,
    ):
        assert json.loads((await ws.receive(timeout=10)).data)["type"] == "hello"
        s = c.sign(ask(c, ALICE, E18, 3000 * E6))
        before = time.time()
        code, body = await api.post_order(s)
        assert code == 201, body
        while True:
            ev = json.loads((await ws.receive(timeout=10)).data)
            if ev.get("type") == "order" and ev["event"] == "added":
                break
        got = time.time()
        meta = ev["metaData"]
        assert meta["orderHash"] == s.hash_hex
        # (one machine, one clock)
        assert before <= meta["publishedAt"] <= meta["sentAt"] <= got
        for record in (body, (await api.get(f"/v1/orders/{s.hash_hex}"))[1]):
            assert "publishedAt" not in record["metaData"]
            assert "sentAt" not in record["metaData"]
