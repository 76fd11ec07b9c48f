"""Settlement's chain calls from asyncio code: one worker thread with its own session.

Settlement signs and sends on one sequential nonce lane and waits for receipts: blocking
work that stays on its own thread (the sync client). Every other read of the node goes
through the async client, ``sdex.chain.arpc``, on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sdex.chain.exchange import Exchange
from sdex.chain.rpc import Rpc

T = TypeVar("T")


class ChainThread:
    """One worker thread with its own JSON-RPC session and Exchange client."""

    def __init__(self, rpc_url: str, exchange_address: str, name: str) -> None:
        self.rpc = Rpc(rpc_url)
        self.exchange = Exchange(self.rpc, exchange_address)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def submit(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """Queue ``fn`` on the thread now (calls run in the order they were queued, one at a
        time); await the future for its result."""
        return asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.rpc.close()
