"""nonce75: a client that resets its connection mid websocket upgrade is a client leaving.

chaos74 (b): a peer closed its ``/p2p/stream`` upgrade before the node answered; the
handler's ``ws.prepare`` raised aiohttp's ``ClientConnectionResetError`` ("Cannot write to
closing transport") into the API's guard, which logged it as a bug with its traceback and
counted a 500; a wallet's ``/v1/ws`` took the same path. A real node on loopback, a real
client on a raw socket: the upgrade request sent, then closed with ``SO_LINGER`` 0 (a reset)
before the node reads it, the test's coroutine holding the event loop meanwhile."""

from __future__ import annotations

import logging
import secrets
import socket
import struct
from pathlib import Path

import aiohttp
import pytest

from sdex.gossip import stream
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_hostile import HostilePeer, hello_answer

RESETS = 6
"""Upgrades reset in a row: more than the websockets the wallet's node lets one client hold
(``WS_PER_CLIENT``): a slot kept by a reset one would refuse the real client after them."""
WS_PER_CLIENT = 2


def reset_mid_upgrade(port: int, path_qs: str, headers: dict[str, str]) -> None:
    """A websocket upgrade of ``path_qs`` sent to ``port``, then the connection reset."""
    lines = [
        f"GET {path_qs} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: " + "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    finally:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()


def left(caplog: pytest.LogCaptureFixture) -> int:
    """Upgrades the node saw reset, as it logged them: left (debug) or a bug (error)."""
    said = [r for r in caplog.records if r.name == "sdex.api"]
    return sum("the client left" in r.getMessage() or r.levelno >= logging.ERROR for r in said)


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_wallet_resetting_its_ws_upgrade_is_no_error(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sdex.api")
    cfg = node_config(chain, tmp_path / "n.db", max_ws_per_client=WS_PER_CLIENT)
    async with running_node(cfg) as (node, _):
        for _ in range(RESETS):
            reset_mid_upgrade(node.config.port, "/v1/ws", {})  # (the loop held meanwhile)
        await wait_for(lambda: left(caplog) >= RESETS, timeout=20)
        assert tracebacks(caplog) == []  # (was: "unexpected error in GET /v1/ws", a 500)
        url = f"http://127.0.0.1:{node.config.port}/v1/ws"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            hello = await ws.receive_json(timeout=10)  # (no slot kept by a reset one)
            assert hello["type"] == "hello"
        assert tracebacks(caplog) == []


async def test_a_peer_resetting_its_stream_upgrade_is_no_error(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="sdex.api")
    peer = HostilePeer({})
    peer.answers = {"/p2p/hello": hello_answer(peer)}
    async with peer.serving():
        cfg = node_config(chain, tmp_path / "n.db", peers=[peer.url])
        async with running_node(cfg) as (node, api):
            assert node.gossip is not None
            me = node.gossip.key.node_id
            await wait_for(lambda: node.gossip.peers.get(peer.key.node_id) is not None, 20)
            for _ in range(RESETS):
                path_qs = f"{stream.PATH}?nonce={secrets.token_hex(32)}&to={me}"
                signed = peer.key.request_headers("GET", path_qs, b"", peer.url, me)
                reset_mid_upgrade(node.config.port, path_qs, signed)
            await wait_for(lambda: left(caplog) >= RESETS, timeout=20)
            assert tracebacks(caplog) == []  # (was: "unexpected error in GET /p2p/stream")
            assert (await api.get("/health"))[0] == 200
