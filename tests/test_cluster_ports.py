"""A ``Cluster``'s node is its own process, not another that took its port first.

``free_port`` picks a port that is free now; the node binds it a second or two later (its
imports, its chain checks). Another test (another xdist worker, another checkout's suite on
the same machine) that picked the same port and bound it first has its node answer this
node's ``/health`` with 200, while this node exits ("port ... already in use"): the cluster
took the other node for its own. Seen once (test_node_stop, SIGTERM): the node "stopped" at
once, and its websocket subscribers, the other node's, never saw a close frame.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp

from tests.conftest import Chain
from tests.nodeutil import Cluster


async def test_a_node_whose_port_another_node_took_first_is_started_on_another(
    chain: Chain, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with Cluster(chain, tmp_path / "a", [[]]) as other:
        net = Cluster(chain, tmp_path / "b", [[]])
        net.ports[0], net.urls[0] = other.ports[0], other.urls[0]  # (the race, forced)
        async with net:
            proc, theirs = net.procs[0], other.procs[0]
            assert proc is not None and theirs is not None
            assert net.session is not None
            ws = await net.session.ws_connect(net.urls[0] + "/v1/ws", autoclose=False)
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            # what a subscriber sees when this cluster's node stops: a close frame (before:
            # its node had exited at once, the other node never closed the socket)
            proc.send_signal(signal.SIGTERM)
            await asyncio.get_running_loop().run_in_executor(None, proc.wait, 60)
            msg = await ws.receive(timeout=10)
            await ws.close()
            log = (tmp_path / "b" / "node-0.log").read_text()
            assert proc.returncode == 0, log[-2000:]
            assert msg.type is aiohttp.WSMsgType.CLOSE, msg
            assert net.urls[0] != other.urls[0]
            assert "already in use" in log and "Traceback" not in log  # (its first start's)
            assert theirs.poll() is None  # (the other node serves on)
