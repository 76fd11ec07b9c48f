"""Settlement's chain calls from asyncio code: one worker thread with its own session.

Settlement signs and sends on one sequential nonce lane and waits for receipts: blocking
work that stays on its own thread (the sync client). Every other read of the node goes
through the async client, ``sdex.chain.arpc``, on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from typing import Any, TypeVar

from sdex.chain.exchange import Exchange
from sdex.chain.rpc import Rpc

T = TypeVar("T")


class NotDone(Exception):
    """What a call queued with ``ChainThread.submit_after`` waited for failed: it never ran."""


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

    def submit_after(
        self, first: Future[Any], on_queue: Callable[..., None], fn: Callable[..., T], *args: Any
    ) -> Future[T]:
        """Queue ``fn(*args)`` once ``first`` is done, from the thread that completes it (the
        store's writer once a record is durable: no hop through the event loop), calling
        ``on_queue(*args)`` just before; never if ``first`` failed (the future then raises
        ``NotDone``) or the returned future was cancelled meanwhile."""
        out: Future[T] = Future()

        def copy(done: Future[T]) -> None:
            with contextlib.suppress(InvalidStateError):  # (cancelled meanwhile)
                if done.cancelled():  # (the pool shut down with it queued)
                    out.set_exception(NotDone("cancelled"))
                elif (e := done.exception()) is not None:
                    out.set_exception(e)
                else:
                    out.set_result(done.result())

        def queue(first: Future[Any]) -> None:
            if out.cancelled():
                return
            e = None if first.cancelled() else first.exception()
            if first.cancelled() or e is not None:
                with contextlib.suppress(InvalidStateError):
                    out.set_exception(NotDone(f"{type(e).__name__}: {e}" if e else "cancelled"))
                return
            on_queue(*args)
            try:  # (a pool shut down: the waiter is told, never left waiting)
                self._pool.submit(fn, *args).add_done_callback(copy)
            except BaseException as e:
                with contextlib.suppress(InvalidStateError):
                    out.set_exception(NotDone(f"{type(e).__name__}: {e}"))

        first.add_done_callback(queue)
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.rpc.close()
