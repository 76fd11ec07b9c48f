"""peers93: the flood bench's driver (``bench/flooder.py``) under load. stand89's and
stand91's windows each logged 2-5 tracebacks of the driver's own server ("Cannot write to
closing transport": a node gave up its stream upgrade before ``ws.prepare``), and a push
whose call failed (``PeerCallError``: a connection the node dropped) ended the driver's
window with it. Now the first is counted (``ClosingTransports``: ``closing_transport`` in
the window's flood tally), not logged, and a failed push counted (``failed``) and sent again.

A real aiohttp server whose websocket handler prepares after its client (a raw TCP socket
on loopback) closed; a real ``Flooder`` pushing to a loopback port nothing listens on."""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from sdex.gossip import GossipConfig
from tests.nodeutil import wait_for
from tests.p2putil import serve_gossip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import flooder

UPGRADE = (
    b"GET /s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


async def test_an_upgrade_its_client_closed_is_counted_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    prepared: list[BaseException] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()

        def gone() -> bool:
            t = request.transport
            return t is None or t.is_closing()

        await wait_for(gone, 30)
        try:
            await ws.prepare(request)
        except BaseException as e:
            prepared.append(e)
            raise
        return ws

    app = web.Application()
    app.router.add_get("/s", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        before = flooder.QUIET.count
        with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(UPGRADE)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
            await wait_for(lambda: bool(prepared), 30)
            await wait_for(lambda: flooder.QUIET.count > before, 30)  # (before: logged)
        assert isinstance(prepared[0], ConnectionResetError), prepared
        assert not [r for r in caplog.records if r.name == "aiohttp.server"], caplog.text
    finally:
        await runner.cleanup()


async def test_a_push_whose_call_fails_is_counted_and_sent_again() -> None:
    with socket.socket() as s:  # (a loopback port nothing listens on: refused)
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    member = await serve_gossip(GossipConfig(dial_interval=1e6, ae_interval=1e6), [])
    f = flooder.Flooder(dead, [b'{"x": 1}'], 1, 2)
    f.member, f.to = member, "0x" + "11" * 20
    try:
        async with aiohttp.ClientSession() as session:
            f.session = session
            stop = asyncio.Event()
            asyncio.get_running_loop().call_later(0.5, stop.set)
            tally = await asyncio.wait_for(f.run(stop), 30)  # (before: PeerCallError)
        assert tally.get("failed", 0) >= 2, tally
    finally:
        await member.runner.cleanup()
