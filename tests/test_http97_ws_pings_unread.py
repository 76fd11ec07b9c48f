"""http97 (attack95's finding): a websocket subscriber that pings and never reads is dropped.

Each ping is answered by a pong (aiohttp's autoping); a client that pings and never reads
fills the kernel's buffers with pongs, then the transport's, and aiohttp's reader waits for
the socket (its pong's ``drain``). On a node with no event to send, nothing else bounded it:
the subscriber held its slot (``max_ws_per_client``) until the next event's send timed out.
Now a connection whose unsent bytes stay above the transport's high-water mark for
``send_timeout`` is aborted (``sdex.node.writedeadline``) and its slot given back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_http97_unread import scraped, scraped_till, unread_socket

SEND_TIMEOUT = 2.0
PAYLOAD = 125
"""A ping's payload (the most a control frame carries): its pong, 127 bytes."""


def ping() -> bytes:
    """A client's masked ping frame."""
    mask = os.urandom(4)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(b"p" * PAYLOAD))
    return bytes([0x89, 0x80 | PAYLOAD]) + mask + data


async def test_a_subscriber_pinging_without_reading_is_dropped(
    chain: Chain, tmp_path: Path
) -> None:
    cfg = node_config(chain, tmp_path / "n.db", send_timeout=SEND_TIMEOUT)
    async with running_node(cfg) as (node, api):
        app = api.app
        assert app is not None
        loop = asyncio.get_running_loop()
        key = base64.b64encode(os.urandom(16)).decode()
        upgrade = (
            "GET /v1/ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        s = await unread_socket(node.config.host, node.config.port, upgrade)
        assert await scraped_till(app, "sdex_ws_connections", 1, 30) == 1
        # ~8 MB of pongs asked for, never read (more than a loopback connection's buffers)
        pings = asyncio.ensure_future(loop.sock_sendall(s, ping() * 64_000))
        try:
            bound = 60 + 4 * SEND_TIMEOUT
            assert await scraped_till(app, "sdex_ws_connections", 0, bound) == 0
            assert scraped(app, "sdex_http_connections_unread_total") >= 1
        finally:
            pings.cancel()
            with contextlib.suppress(BaseException):
                await pings
            s.close()
