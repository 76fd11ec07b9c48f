"""A read made on a connection of its own, opened for it and closed after it (``apart``).

A balancer that pins each kept-alive connection to one backend (sticky sessions) answers
every read of a pooled client from the same backend: two reads meant to agree (a loss, a
receipt, a block told twice) are then one backend's word twice. A read on a connection of
its own is placed anew by the balancer. The watcher's proofs do so (``Watcher._apart``:
review82b, watch84); the settlement's too (settle89: ``unsettled._mined_at_once``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sdex.chain.arpc import AsyncRpc

T = TypeVar("T")


async def apart(rpc: AsyncRpc, read: Callable[[AsyncRpc], Awaitable[T]], timeout: float) -> T:
    """``read`` made through a client of ``rpc``'s URL with one connection of its own,
    opened for it and closed after it, bounded by ``timeout`` seconds; its calls counted
    with ``rpc``'s (/health's counts)."""
    own = AsyncRpc(rpc.url, timeout=timeout, connections=1)
    try:
        return await read(own)
    finally:
        await own.close()
        rpc.calls.update(own.calls)
        rpc.requests += own.requests
