"""A deadline on a connection's unsent answer bytes: a client that does not read is dropped.

asyncio's transport keeps what the kernel did not take; past its high-water mark (64 KiB) it
pauses its protocol and aiohttp's writer waits (``drain``) until the client reads. attack95: a
client that pipelined requests for small answers (``/health``, ``/metrics``: under
``sdex.node.sending.BIG_ANSWER``, so under no ``send_timeout``) and never read held its
connection busy for ever, past the idle timeout (a request was in progress). And a connection
closed with bytes still unsent (``transport.close()``: the idle timeout, an answer with
``Connection: close``, a refusal, ``force_close``) kept its socket until the client read them.

``WriteDeadline`` (the handler of every node and front connection) bounds both: a connection
whose transport stays paused (the client not reading), or that was closed with bytes unsent,
for ``write_timeout`` seconds (``NodeConfig.send_timeout``, 30) is aborted: its socket closed
at once, what it held dropped, counted (``STALLED``, the node's
``sdex_http_connections_unread_total``). A client that reads resumes the transport in time
and is never touched: on loopback the kernel takes megabytes at once.

``abandon`` is that abort for a connection whose answer is given up now
(``sdex.node.sending``'s big answer unread within ``send_timeout``): ``force_close`` alone is
``transport.close()``, which waits for the unsent bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.web_protocol import RequestHandler

WRITE_TIMEOUT = 30.0
"""Seconds a connection may hold unsent answer bytes it cannot write (``send_timeout``'s)."""


class Stalled:
    """Connections aborted in this process so far: their unsent bytes past the deadline."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0


STALLED = Stalled()
"""The process's count (a node process serves one app: its ``/metrics`` shows it)."""


def abandon(handler: RequestHandler) -> None:
    """Close ``handler``'s connection now, dropping what it has not sent (``abort``, not
    ``close``: a client that never reads would keep the socket)."""
    transport = handler.transport
    handler.force_close()
    if transport is not None:
        transport.abort()


class WriteDeadline(RequestHandler):
    """aiohttp's request handler with its unsent bytes under a deadline (the module's)."""

    __slots__ = ("_lost", "_stall", "_write_timeout")

    def __init__(self, *args: Any, write_timeout: float = WRITE_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._write_timeout = write_timeout
        self._stall: asyncio.TimerHandle | None = None
        """The abort to come, while the connection holds bytes it cannot send."""
        self._lost = False

    def pause_writing(self) -> None:
        super().pause_writing()
        self._arm(self.transport)

    def resume_writing(self) -> None:
        super().resume_writing()
        transport = self.transport
        if transport is not None and not transport.is_closing():  # (closed: until all sent)
            self._disarm()

    def force_close(self) -> None:
        transport = self.transport
        super().force_close()
        self._unsent(transport)

    async def start(self) -> None:
        try:
            await super().start()
        finally:  # (aiohttp closes the transport as it ends, with whatever is unsent)
            self._unsent(self.transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._lost = True
        self._disarm()
        super().connection_lost(exc)

    def _unsent(self, transport: asyncio.BaseTransport | None) -> None:
        """Arm the deadline if ``transport`` (being closed) still holds unsent bytes."""
        if (
            not self._lost
            and isinstance(transport, asyncio.WriteTransport)
            and transport.get_write_buffer_size() > 0
        ):
            self._arm(transport)

    def _arm(self, transport: asyncio.BaseTransport | None) -> None:
        if self._stall is None and transport is not None and not self._lost:
            self._stall = self._loop.call_later(self._write_timeout, self._stalled, transport)

    def _disarm(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self, transport: asyncio.BaseTransport) -> None:
        self._stall = None
        if self._lost:
            return
        STALLED.count += 1
        super().force_close()
        assert isinstance(transport, asyncio.WriteTransport)
        transport.abort()
