"""The websocket sender writes the events queued at one wake-up in one go: still one
message an event, each the same JSON text, in order, whatever their sizes (frame lengths
of 1, 2 and 8 bytes), and one ``send_str`` each when the client negotiated compression."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdex.node.events import encode_json, text_frames
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

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
