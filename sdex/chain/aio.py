"""A worker thread with its own sync JSON-RPC session, for the node's start-up reads (the
Exchange's code and domain, a previous run's settlements reconciled): off every hot path.
Settlement's sends, receipts and nonce reads go through the async client on the event loop
(``sdex.chain.arpc``, ``sdex.chain.asend``), as every other read of the running node.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sdex.chain.exchange import Exchange
from sdex.chain.rpc import Rpc

T = TypeVar("T")


class NotDone(Exception):
    """What a broadcast waited for (its record) failed: it never ran."""


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
