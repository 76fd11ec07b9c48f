"""user38's trial: with the devnet stopped, the page's chain banner first said
"ClientOSError: [Errno 104] Connection reset by peer" (a kept-alive connection the chain's
node reset as it stopped), aiohttp's words, before "cannot connect to HOST:PORT: Connection
refused" (put in words by user31). Now "connection to HOST:PORT reset ..." too."""

from __future__ import annotations

import asyncio
import socket
import struct

import aiohttp

from sdex.watch.loop import status_of


async def _reset(url: str, rst: bool = True) -> Exception:
    """A request to a server that takes it and resets the connection (SO_LINGER 0), or
    closes it without an answer."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        if rst:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
        else:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", int(url.rsplit(":", 1)[1]))
    async with server, aiohttp.ClientSession() as s:
        try:
            await s.get(url + "/")
        except aiohttp.ClientError as e:
            return e
    raise AssertionError("it answered")


def test_a_reset_connection_is_said_in_words() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    e = asyncio.run(_reset(url))
    status, problem = status_of(e, url)
    assert status == "unreachable"
    assert problem.startswith(f"connection to 127.0.0.1:{port} "), (type(e), e, problem)
    assert "Error" not in problem and "Errno" not in problem, problem


def test_a_reset_made_by_aiohttp_is_said_in_words() -> None:
    """The error as aiohttp raises it for a kept-alive connection's reset."""
    e = aiohttp.ClientOSError(104, "Connection reset by peer")
    status, problem = status_of(e, "http://127.0.0.1:8545")
    assert (status, problem) == (
        "unreachable",
        "connection to 127.0.0.1:8545 reset: the chain's node closed it (stopping?)",
    )


def test_a_connection_closed_without_an_answer_is_said_in_words() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    e = asyncio.run(_reset(url, rst=False))
    assert isinstance(e, aiohttp.ServerDisconnectedError), (type(e), e)
    assert status_of(e, url) == (
        "unreachable",
        f"connection to 127.0.0.1:{port} closed before an answer",
    )
