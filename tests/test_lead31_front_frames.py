"""review66's finding in front63's wire (``sdex.node.frontwire.Channel``): everything added in
one loop turn went as one frame, never split at ``MAX_FRAME``; the far end closes the channel
on a frame over it (the node then restarts the front, dropping every client on it). One
client could do it: 300 concurrent POSTs of 60 KB JSON bodies that are no order, each passed
to the node whole. Now a turn's items go in as many frames as the bound needs.

Real Unix sockets (a ``socketpair``, as the node makes for each front), both ends the
channel's own protocol."""

from __future__ import annotations

import asyncio
import json
import socket

from sdex.node.frontwire import MAX_FRAME, Channel, encode_requests
from tests.nodeutil import wait_for

BODY = 60_000
ITEMS = 300


async def test_a_turns_items_over_one_frames_bound_arrive_in_several() -> None:
    loop = asyncio.get_running_loop()
    near, far = socket.socketpair()
    got: list[object] = []
    frames: list[int] = []

    def on_frame(frame: bytes) -> None:
        frames.append(len(frame))
        got.extend(json.loads(frame))

    _, sender = await loop.create_unix_connection(
        lambda: Channel(lambda f: None, encode_requests), sock=near
    )
    _, receiver = await loop.create_unix_connection(
        lambda: Channel(on_frame, encode_requests), sock=far
    )
    try:
        assert ITEMS * BODY > MAX_FRAME  # (one turn's items: more than a frame holds)
        for i in range(ITEMS):
            sender.add([i, "127.0.0.1", "gtc", "j", "x" * BODY])

        async def arrived() -> bool:
            return len(got) == ITEMS or receiver.closed.is_set()

        await wait_for(arrived, timeout=30)
        assert not receiver.closed.is_set()  # before: the frame over the bound ended it
        assert [item[0] for item in got] == list(range(ITEMS))  # (each once, in order)
        assert len(frames) > 1 and max(frames) <= MAX_FRAME
    finally:
        sender.close()
        receiver.close()
