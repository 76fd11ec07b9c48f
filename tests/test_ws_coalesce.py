"""The websocket sender writes the events queued at one wake-up in one go: still one
message an event, each the same JSON text, in order, whatever their sizes (frame lengths
of 1, 2 and 8 bytes), and one ``send_str`` each when the client negotiated compression."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from pathlib import Path

import pytest

from sdex.node import wsapi
from sdex.node.api import WS_STALL_SECONDS
from sdex.node.events import encode_json, text_frames
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

SIZES = (0, 10, 125, 126, 200, 65_535, 65_536, 70_000)


def test_text_frames_are_rfc6455_server_frames() -> None:
    for n in SIZES:
        data = text_frames(["x" * n])
        header = data[: len(data) - n]
        assert header[0] == 0x81  # final, text, no RSV bits
        assert header[1] & 0x80 == 0  # not masked (server to client)
        length = header[1] & 0x7F
        if n < 126:
            assert length == n and len(header) == 2
        elif n < 1 << 16:
            assert length == 126 and int.from_bytes(header[2:4], "big") == n
        else:
            assert length == 127 and int.from_bytes(header[2:10], "big") == n
    assert text_frames(["é"]) == b"\x81\x02" + "é".encode()


@pytest.mark.parametrize("compress", [0, 15])
async def test_a_burst_of_events_arrives_one_message_each_in_order(
    chain: Chain, tmp_path: Path, compress: int
) -> None:
    async with (
        running_node(node_config(chain, tmp_path / "n.db")) as (node, api),
        api.session.ws_connect(api.base + "/v1/ws", compress=compress) as ws,
    ):
        hello = json.loads((await ws.receive(timeout=10)).data)
        assert hello["type"] == "hello"
        sent = [
            {"type": "test", "i": i, "pad": "y" * SIZES[i % len(SIZES)], "q": 'a"\\\n'}
            for i in range(3 * len(SIZES))
        ]
        for ev in sent:  # all queued before the sender wakes up
            node.events.publish(ev)
        first = None
        for ev in sent:
            msg = await ws.receive(timeout=30)
            got = json.loads(msg.data)
            first = got["seq"] if first is None else first
            assert got == {"seq": first + ev["i"], **ev}
            assert msg.data == encode_json(got)  # the very text, one message each


async def test_a_subscriber_that_stopped_reading_is_dropped_and_disconnected(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that never reads falls behind: its subscription is dropped, and its
    connection is cut once a send or the closing handshake has waited ``WS_STALL_SECONDS``
    (neither can end while nothing is read), not kept open for ever. The stall is 1 s here
    (suite89: 5 s waited out; the client never reads, so any stall ends the same way)."""
    monkeypatch.setattr(wsapi, "WS_STALL_SECONDS", 1.0)
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        node.events.max_queue = 200  # (the subscription made next takes it)
        host, port = api.base.removeprefix("http://").split(":")
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.setblocking(False)
        reader, writer = await asyncio.open_connection(sock=sock)
        try:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(
                f"GET /v1/ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)

            async def connections() -> int:
                async with api.session.get(api.base + "/metrics") as r:
                    text = await r.text()
                line = next(x for x in text.splitlines() if x.startswith("sdex_ws_connections"))
                return int(float(line.split()[1]))

            async def connected() -> bool:
                return await connections() == 1

            await wait_for(connected)
            pad = "p" * 1000
            for _ in range(400):  # bursts until the subscription overflows
                if len(node.events) == 0:
                    break
                for _ in range(50):
                    node.events.publish({"type": "test", "pad": pad})
                for _ in range(3):  # (let the sender write what it can)
                    await asyncio.sleep(0)
            assert len(node.events) == 0  # dropped

            async def closed() -> bool:
                return await connections() == 0

            await wait_for(closed, timeout=2 * WS_STALL_SECONDS + 15)
        finally:
            writer.close()
