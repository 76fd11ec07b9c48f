"""user31: with the devnet stopped, the page's chain banner (and ``/health``'s
``chainMirror.problem``) said "ClientConnectorError: Cannot connect to host 127.0.0.1:38545
ssl:default [Connect call failed ('127.0.0.1', 38545)]": aiohttp's words. Now "cannot
connect to 127.0.0.1:38545: Connection refused"."""

from __future__ import annotations

import asyncio
import socket

import aiohttp

from sdex.watch.loop import status_of


async def _refused(port: int) -> aiohttp.ClientConnectorError:
    async with aiohttp.ClientSession() as s:
        try:
            await s.get(f"http://127.0.0.1:{port}/")
        except aiohttp.ClientConnectorError as e:
            return e
    raise AssertionError("something answered")


def test_a_refused_connection_is_said_in_words() -> None:
    with socket.socket() as s:  # a port nothing listens on (bound, not listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        e = asyncio.run(_refused(port))
    status, problem = status_of(e)
    assert status == "unreachable"
    assert problem == f"cannot connect to 127.0.0.1:{port}: Connection refused"
