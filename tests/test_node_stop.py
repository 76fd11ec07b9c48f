"""A node stops cleanly and at once with clients connected.

Before: the node's event stream was never ended at a stop, so the HTTP server's shutdown
waited its whole ``shutdown_timeout`` (2 s) for each websocket subscriber's handler (waiting
for the next event), then cut the socket: a node with one subscriber took 4.0 s to stop
(0.013 s with none), and the subscriber saw its socket dropped, no close frame.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node


async def test_a_subscriber_gets_a_close_frame_when_the_node_stops(
    chain: Chain, tmp_path: Path
) -> None:
    cfg = node_config(chain, tmp_path / "n.db")
    async with aiohttp.ClientSession() as session:
        async with running_node(cfg) as (_, api):
            ws = await session.ws_connect(api.base + "/v1/ws")
            assert (await ws.receive_json())["type"] == "hello"
        # (the node has stopped: its last word on the socket)
        msg = await ws.receive(timeout=10)
        assert msg.type is aiohttp.WSMsgType.CLOSE, msg
        await ws.close()
