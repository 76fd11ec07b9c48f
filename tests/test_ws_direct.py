"""Events published while a websocket's sender waits with nothing queued are written by one
callback per loop turn (``Subscription.put``/``flush``), without a send task or a wake-up of
the sender; what a client receives is the same: one message an event, the same JSON text,
in order, whatever mix of written-directly and queued events (a client's own answers, bursts
past ``DIRECT_MOST``) it gets."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp

from sdex.node.events import DIRECT_MOST, Published, encode_json
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.taskutil import coroutines_started


async def received(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        msg = await ws.receive(timeout=30)
        assert msg.type is aiohttp.WSMsgType.TEXT
        got = json.loads(msg.data)
        assert msg.data == encode_json(got)  # the very text, one message each
        out.append(got)
    return out


async def test_events_one_a_turn_start_no_send_task(chain: Chain, tmp_path: Path) -> None:
    async with (
        running_node(node_config(chain, tmp_path / "n.db")) as (node, api),
        api.session.ws_connect(api.base + "/v1/ws") as ws,
    ):
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        with coroutines_started() as names:
            for i in range(20):
                node.events.publish({"type": "test", "i": i})
                got = await received(ws, 1)
                assert got[0]["type"] == "test" and got[0]["i"] == i
        assert [n for n in names if "send" in n] == []  # (main: one ``send_str`` task each)
        (sub,) = node.events._subs
        assert sub.parked and sub.queue.empty()


async def test_direct_and_queued_events_keep_their_order(chain: Chain, tmp_path: Path) -> None:
    async with (
        running_node(node_config(chain, tmp_path / "n.db")) as (node, api),
        api.session.ws_connect(api.base + "/v1/ws") as ws,
    ):
        assert (await ws.receive_json(timeout=10))["type"] == "hello"
        (sub,) = node.events._subs
        # in one turn: written directly, then the client's own answer (queued, wakes the
        # sender), then published again (queued behind it), then a burst past DIRECT_MOST
        node.events.publish({"type": "test", "i": 0})
        sub.offer(Published({"type": "answer", "i": 1}, None))
        node.events.publish({"type": "test", "i": 2})
        got = await received(ws, 3)
        assert [(e["type"], e["i"]) for e in got] == [("test", 0), ("answer", 1), ("test", 2)]
        n = 3 * DIRECT_MOST
        for i in range(n):
            node.events.publish({"type": "test", "i": i, "pad": "x" * (i * 37 % 3000)})
        got = await received(ws, n)
        assert [e["i"] for e in got] == list(range(n))
        seqs = [e["seq"] for e in got]
        assert seqs == list(range(seqs[0], seqs[0] + n))
        for turn in range(5):  # one a turn again, now that the sender is parked
            node.events.publish({"type": "test", "i": turn})
            await asyncio.sleep(0)
        assert [e["i"] for e in await received(ws, 5)] == list(range(5))
