"""http97 (attack95's findings): answers a client never reads are bounded in time.

- Small answers (``/health``, under ``sdex.node.sending.BIG_ANSWER``) pipelined and never
  read: once the kernel's buffers are full, aiohttp's writer waited (``drain``) for ever, the
  connection busy (so past the idle timeout) and under no ``send_timeout``. Now a connection
  whose transport stays paused for ``send_timeout`` is aborted (``sdex.node.writedeadline``).
- A big answer unread within ``send_timeout`` closed its connection with ``force_close``, a
  ``transport.close()``: the socket stayed until the client read what was left. Now it is
  aborted at once (``abandon``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from aiohttp import web
from prometheus_client.exposition import generate_latest

from sdex.node.appstate import METRICS_KEY
from sdex.node.conns import BoundedRunner, ConnectionSlots
from sdex.node.sending import AnswerSlots, bound_answers
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

SEND_TIMEOUT = 2.0


def scraped(app: web.Application, name: str) -> float:
    """The value of the unlabelled metric ``name`` on ``app``'s ``/metrics`` (0 if absent)."""
    for line in generate_latest(app[METRICS_KEY].registry).decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def scraped_till(app: web.Application, name: str, want: float, bound: float) -> float:
    """``name`` scraped (``scraped``) till it is ``want``, ``bound`` seconds at most: its
    value then."""
    deadline = time.monotonic() + bound
    while scraped(app, name) != want and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return scraped(app, name)


async def unread_socket(host: str, port: int, ask: bytes) -> socket.socket:
    """A connection that sent ``ask`` and will never read (its receive buffer kept small)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(s, (host, port))
    await loop.sock_sendall(s, ask)
    return s


async def test_small_answers_never_read_do_not_hold_the_connection(
    chain: Chain, tmp_path: Path
) -> None:
    cfg = node_config(chain, tmp_path / "n.db", send_timeout=SEND_TIMEOUT)
    async with running_node(cfg) as (node, api):
        app = api.app
        assert app is not None
        # ~1,500 answers of ~8 KB: more than the kernel's buffers of a loopback connection
        ask = b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n" * 1500
        s = await unread_socket(node.config.host, node.config.port, ask)
        try:
            assert await scraped_till(app, "sdex_http_connections", 1, 30) == 1
            # past the send timeout with answers unsent, the connection is aborted
            bound = 40 + 4 * SEND_TIMEOUT
            assert await scraped_till(app, "sdex_http_connections", 0, bound) == 0
            assert scraped(app, "sdex_http_connections_unread_total") >= 1
        finally:
            s.close()
        code, _ = await api.get("/health")
        assert code == 200


async def test_a_big_answer_unread_in_time_lets_its_socket_go_at_once() -> None:
    """A bare aiohttp app on loopback served as the node's (``BoundedRunner``), one 8 MB answer
    in memory, its unsent bytes' own deadline far off: the send timeout's close is an abort."""
    big = b"x" * (8 << 20)

    async def answer(_request: web.Request) -> web.Response:
        return web.Response(body=big)

    app = web.Application()
    app.router.add_get("/big", answer)
    answers = AnswerSlots()
    bound_answers(app, answers, SEND_TIMEOUT)
    slots = ConnectionSlots(512, 4096)
    runner = BoundedRunner(app, slots, 60.0, write_timeout=300.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        s = await unread_socket("127.0.0.1", port, b"GET /big HTTP/1.1\r\nHost: a\r\n\r\n")
        try:
            deadline = time.monotonic() + 30 + SEND_TIMEOUT
            while not answers.unread and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert answers.unread == 1
            deadline = time.monotonic() + 20  # (its unsent bytes' own deadline: 300 s)
            while len(slots) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert len(slots) == 0
        finally:
            s.close()
    finally:
        await runner.cleanup()
