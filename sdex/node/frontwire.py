"""The wire between a node and its front processes (``sdex.node.fronts``, ``sdex.node.front``).

Two Unix socket pairs a front, made by the node before it starts the front:

- the orders channel, length-prefixed frames both ways, one frame a loop turn each way:
  a front's frame is a JSON list of requests (``[id, client, timeInForce, kind, payload]``;
  an order signed by its maker is ``"v"`` with its ABI words, signature and hash in hex),
  the node's a run of answers (``ANSWER`` then the headers, NUL-separated, and the body);
- the hand-over channel: a connection whose request is not a wallet's ``POST /v1/orders``
  passes to the node whole, its socket (``SCM_RIGHTS``) with its id (``CID``) and every byte
  the front read of it since that request began, as sent (a body's start, a request
  pipelined behind it), one frame each.

The node counts every connection a front holds (``sdex.node.conns.FrontConn``): a front
says ``["o", id, address]`` at its accept and reads nothing of it until the node's answer
(``ADMITTED``, or its refusal whole, which the front writes and closes); ``["b", id]`` and
``["i", id]`` as a request on it begins and ends, ``["c", id]`` once it closed. ``CLOSE``:
the node took its slot (an idle one for a newcomer, the heaviest client's): close it.

Every frame is bounded (``MAX_FRAME``); a frame over it, or one that does not parse, ends
the channel (the node restarts that front).
"""

from __future__ import annotations

import array
import asyncio
import json
import socket
import struct
from collections.abc import Callable
from typing import Any

HEAD = struct.Struct(">I")
ANSWER = struct.Struct(">QHII")
"""An answer's request id, status, and the lengths of its headers and of its body."""
MAX_FRAME = 8 * 1024 * 1024
"""The largest frame either way (a hand-over's request: its head and a peer's 4 MiB body)."""
MAX_FDS = 16
ADMITTED = 1
"""An answer's status to a front's ``["o", id, address]``: the connection is counted, serve it."""
CLOSE = 2
"""An answer's status for a connection the node took the slot of: close it."""
CID = struct.Struct(">Q")
"""A handed-over connection's id, before its bytes."""
"""Sockets taken from one read of the hand-over channel at most."""


class Channel(asyncio.Protocol):
    """One end of an orders channel: ``on_frame`` called with each frame whole; ``add``
    queues an item, sent with the others of the loop turn as one frame (``encode``)."""

    def __init__(
        self, on_frame: Callable[[bytes], None], encode: Callable[[list[Any]], bytes]
    ) -> None:
        self.on_frame = on_frame
        self.encode = encode
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.out: list[Any] = []
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.flush()  # (what was added before the connection was made)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        at, n = 0, len(buf)
        while n - at >= 4:
            (size,) = HEAD.unpack_from(buf, at)
            if size > MAX_FRAME:
                self.close()
                return
            if n - at - 4 < size:
                break
            frame = bytes(buf[at + 4 : at + 4 + size])
            at += 4 + size
            self.on_frame(frame)
        if at:
            del buf[:at]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed.set()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
        self.closed.set()

    def say_ready(self) -> None:
        """A front's first frame once it accepts connections: an empty list."""
        if self.transport is not None:
            self.transport.write(HEAD.pack(2) + b"[]")

    def add(self, item: Any) -> None:
        if not self.out:
            asyncio.get_running_loop().call_soon(self.flush)
        self.out.append(item)

    def flush(self) -> None:
        t = self.transport
        if t is None or not self.out:
            return
        out, self.out = self.out, []
        if not t.is_closing():
            for data in self._frames(out):
                t.write(HEAD.pack(len(data)) + data)

    def _frames(self, items: list[Any]) -> list[bytes]:
        """``items`` encoded as frames of at most ``MAX_FRAME`` bytes, halved until they fit
        (each half is a whole list of requests, or a run of answers). review66: one client's
        300 concurrent 60 KB bodies that were JSON but no order went to the node in one turn's
        frame over the bound; the node ended the channel and restarted the front, dropping
        every client on it. One item alone over the bound goes as is (the far end ends the
        channel): none can be, a request's body being bounded by the node's ``max_body``."""
        data = self.encode(items)
        if len(data) <= MAX_FRAME or len(items) == 1:
            return [data]
        half = len(items) // 2
        return self._frames(items[:half]) + self._frames(items[half:])


def encode_requests(items: list[Any]) -> bytes:
    return json.dumps(items, separators=(",", ":")).encode()


def encode_answers(items: list[tuple[int, int, dict[str, str] | None, bytes]]) -> bytes:
    parts: list[bytes] = []
    for rid, status, headers, body in items:
        # (names and values NUL-separated: the node's own, and no header holds a NUL;
        # ~1 us an answer on the node's loop, a JSON object's ~4)
        h = b"" if not headers else "\0".join(x for kv in headers.items() for x in kv).encode()
        parts += (ANSWER.pack(rid, status, len(h), len(body)), h, body)
    return b"".join(parts)


def decode_answers(frame: bytes) -> list[tuple[int, int, dict[str, str] | None, bytes]]:
    out: list[tuple[int, int, dict[str, str] | None, bytes]] = []
    at = 0
    while at < len(frame):
        rid, status, hn, bn = ANSWER.unpack_from(frame, at)
        at += ANSWER.size
        if hn:
            parts = frame[at : at + hn].decode().split("\0")
            headers: dict[str, str] | None = dict(zip(parts[::2], parts[1::2], strict=True))
        else:
            headers = None
        at += hn
        out.append((rid, status, headers, frame[at : at + bn]))
        at += bn
    return out


def send_handover(sock: socket.socket, conn_fd: int, payload: bytes) -> None:
    """Pass ``conn_fd`` with ``payload`` (a blocking socket: the node reads at once)."""
    data = HEAD.pack(len(payload)) + payload
    sent = sock.sendmsg(
        [data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [conn_fd]))]
    )
    if sent < len(data):
        sock.sendall(data[sent:])


class HandoverReader:
    """The node's end of a hand-over channel: ``on_conn(sock, payload)`` for each socket
    passed, in order; ``on_closed()`` once the channel ends (the front is gone) or breaks."""

    def __init__(
        self,
        sock: socket.socket,
        on_conn: Callable[[socket.socket, bytes], None],
        on_closed: Callable[[], None],
    ) -> None:
        self.sock = sock
        self.on_conn = on_conn
        self.on_closed = on_closed
        self.buf = bytearray()
        self.fds: list[int] = []
        self.loop = asyncio.get_running_loop()
        sock.setblocking(False)
        self.loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            data, anc, _flags, _ = self.sock.recvmsg(256 * 1024, socket.CMSG_SPACE(4 * MAX_FDS))
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, anc = b"", []
        for level, kind, raw in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(raw[: len(raw) - len(raw) % fds.itemsize])
                self.fds += fds
        if not data:
            self.close()
            return
        self.buf += data
        buf = self.buf
        while len(buf) >= 4:
            (size,) = HEAD.unpack_from(buf, 0)
            if size > MAX_FRAME or not self.fds:  # (a frame came without its socket)
                self.close()
                return
            if len(buf) - 4 < size:
                break
            payload = bytes(buf[4 : 4 + size])
            del buf[: 4 + size]
            fd = self.fds.pop(0)
            try:
                conn = socket.socket(fileno=fd)
            except OSError:
                continue
            self.on_conn(conn, payload)

    def close(self) -> None:
        if self.sock.fileno() >= 0:
            self.loop.remove_reader(self.sock.fileno())
            self.sock.close()
        for fd in self.fds:
            socket.close(fd)
        self.fds.clear()
        self.on_closed()
