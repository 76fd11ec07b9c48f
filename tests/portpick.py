"""A server started on a port ``free_port`` picked a moment before, started again on another
pick when some other process bound that port first, at most ``PORT_TRIES`` times.

``free_port`` checks its pick by binding it and lets it go: until the server (a ``sdex node``
process, an aiohttp site, a proxy) binds it, any process of the machine may take it. On a
machine shared by several suites that happens (harden93: dup93 saw reconcile77's node_up
fail with ``PortTaken``; a session's Hardhat logged EADDRINUSE and started again on its own,
``sdex.chainnode.ChainNode.start``). Every test helper that starts a server on a picked port
starts it through ``on_picked_port``."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from typing import TypeVar

from sdex import chainnode
from sdex.errors import PortInUseError

T = TypeVar("T")

PORT_TRIES = 3
"""Ports a server on a picked port is started on before its start's failure is the test's
(each pick fails only if some other process picked the same port in the same second or two)."""


class PortTaken(AssertionError):
    """A node process exited because another process listened on its port first."""


def free_port() -> int:
    """``sdex.chainnode.free_port``'s pick (read at each call: a test may replace it here)."""
    return chainnode.free_port()


def port_taken(e: BaseException) -> bool:
    """Whether ``e`` says the server's port was taken by another process first: a node
    process that exited for it (``PortTaken``), a node refusing it at its start
    (``PortInUseError``), a chain node (``chainnode.PortTaken``), a bind (EADDRINUSE)."""
    if isinstance(e, PortTaken | PortInUseError | chainnode.PortTaken):
        return True
    return isinstance(e, OSError) and e.errno == errno.EADDRINUSE


@contextlib.asynccontextmanager
async def on_picked_port(
    start: Callable[[int], AbstractAsyncContextManager[T]],
    first: int | None = None,
    tries: int = PORT_TRIES,
) -> AsyncIterator[T]:
    """``start(port)`` entered on a picked port (``first``, if given, else ``free_port``'s)
    and yielded; when its entry fails because the port was taken (``port_taken``), what it
    started is exited and it is entered again on a new pick, at most ``tries`` times.
    ``start``'s entry must end only once its server listens (a process's own word that it
    does, ``nodeutil.listening``: not merely that something answers on the port). An error
    of the block's own is never a reason to start again."""
    port = free_port() if first is None else first
    for attempt in range(1, tries + 1):
        stack = contextlib.AsyncExitStack()
        try:
            value = await stack.enter_async_context(start(port))
        except BaseException as e:
            await stack.aclose()
            if not port_taken(e) or attempt == tries:
                raise
            port = free_port()
            continue
        async with stack:
            yield value
        return


async def on_a_picked_port(start: Callable[[int], Awaitable[T]], tries: int = PORT_TRIES) -> T:
    """``start(port)`` awaited on ``free_port``'s pick, and on a new pick when it failed
    because the port was taken (``port_taken``), at most ``tries`` times: for a server its
    caller stops itself (``start`` undoes what it did before it raises)."""
    for attempt in range(1, tries + 1):
        try:
            return await start(free_port())
        except BaseException as e:
            if not port_taken(e) or attempt == tries:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def on_picked_port_sync(
    start: Callable[[int], AbstractContextManager[T]], tries: int = PORT_TRIES
) -> Iterator[T]:
    """``on_picked_port`` for a test without an event loop: ``start(port)`` entered on
    ``free_port``'s pick, again on a new pick when its entry failed because the port was
    taken, at most ``tries`` times; an error of the block's own is never retried."""
    for attempt in range(1, tries + 1):
        stack = contextlib.ExitStack()
        try:
            value = stack.enter_context(start(free_port()))
        except BaseException as e:
            stack.close()
            if not port_taken(e) or attempt == tries:
                raise
            continue
        with stack:
            yield value
        return
