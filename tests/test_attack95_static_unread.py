"""attack95: the page's files, asked for and never read, are large answers as any other.

``sdex.node.sending`` bounds the node's big answers (at most ``max_large_answers_per_client``
being written to a client at once, each taken within ``send_timeout`` or its connection
closed), but only those made in memory: a file of the page (``WholeFile``, sent by
``sendfile``) went around it. A client that asked for ethers' bundle (0.5 MB) many times on
one connection and never read held that connection busy for ever (past the idle timeout,
past ``send_timeout``) and, while the file was being sent, a descriptor of the file too:
two descriptors a connection, any number of connections up to the client's 512, where the
node's bounds (``max_http``, half the process's descriptor limit) count one."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

import pytest

from sdex.web import find_ethers
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

SOCKETS = 10
ASKS = 30
"""ethers' bundle asked for this many times on each socket: ~15 MB, more than the kernel's
buffers of one loopback connection take."""
SEND_TIMEOUT = 2.0
PER_CLIENT = 4


def files_open(path: Path) -> int:
    """This process's descriptors of ``path`` (the node runs in it)."""
    n = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                n += 1
        except OSError:
            pass
    return n


async def test_a_page_file_never_read_is_bounded_and_let_go(chain: Chain, tmp_path: Path) -> None:
    ethers = find_ethers()
    if ethers is None:
        pytest.skip("ethers' bundle is not installed (npm ci)")
    ethers = ethers.resolve()
    cfg = node_config(
        chain,
        tmp_path / "n.db",
        send_timeout=SEND_TIMEOUT,
        max_large_answers_per_client=PER_CLIENT,
    )
    async with running_node(cfg) as (node, api):
        host, port = node.config.host, node.config.port
        ask = b"GET /static/vendor/ethers.js HTTP/1.1\r\nHost: x\r\n\r\n" * ASKS
        socks = []
        try:
            for _ in range(SOCKETS):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.setblocking(False)
                await asyncio.get_running_loop().sock_connect(s, (host, port))
                await asyncio.get_running_loop().sock_sendall(s, ask)
                socks.append(s)  # (never read)
            most = 0
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:  # the files being sent: PER_CLIENT at most
                most = max(most, files_open(ethers))
                await asyncio.sleep(0.05)
                if most and time.monotonic() > deadline - 20:
                    break
            assert 1 <= most <= PER_CLIENT, most
            # each connection closed within SEND_TIMEOUT of its stuck answer: no file held
            deadline = time.monotonic() + 30 + 4 * SEND_TIMEOUT
            while files_open(ethers) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert files_open(ethers) == 0
            code, _ = await api.get("/health")
            assert code == 200
        finally:
            for s in socks:
                s.close()


async def test_files_read_in_turn_on_one_connection(chain: Chain, tmp_path: Path) -> None:
    """A client that reads gets every file it asked for on one keep-alive connection (a file
    written by the bound was sent again, headless, by aiohttp, and the connection closed)."""
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, _api):
        size = (Path(__file__).parents[1] / "sdex/web/static/app.js").stat().st_size
        reader, writer = await asyncio.open_connection(node.config.host, node.config.port)
        try:
            writer.write(b"GET /static/app.js HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
            for _ in range(3):
                async with asyncio.timeout(30):
                    head = await reader.readuntil(b"\r\n\r\n")
                    assert head.startswith(b"HTTP/1.1 200"), head
                    assert f"Content-Length: {size}\r\n".encode() in head, head
                    await reader.readexactly(size)
        finally:
            writer.close()
