"""ECDSA signature recovery off the event loop, in batches.

Recovering an order's signer (secp256k1, in C through coincurve's cffi bindings, which
release the GIL) is the largest single cost of accepting an order. ``EcdsaBatcher`` collects
the orders that reach that step during one turn of the event loop and hands them to one
worker thread together; the thread recovers them all (on the other core, while the loop goes
on parsing, hashing and booking) and wakes their coroutines with one callback. A lone order
(an idle loop) is recovered on the loop at the end of its turn, as before: no thread to
wake, no timer.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading

from sdex.errors import SignatureError
from sdex.order import SignedOrder, recover_signer

Batch = list[tuple[SignedOrder, "asyncio.Future[bool | None]"]]


def ecdsa_ok(signed: SignedOrder) -> bool | None:
    """True/False for a 65-byte ECDSA signature; None when it isn't one (EIP-1271 bytes)."""
    if len(signed.signature) != 65:
        return None
    try:
        return recover_signer(signed.hash, signed.signature) == signed.order.maker
    except SignatureError:
        return False


class _Worker:
    """The one thread (per process, started when first needed) that recovers batches."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, Batch]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, loop: asyncio.AbstractEventLoop, batch: Batch) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sdex-ecdsa", daemon=True)
                self._thread.start()
        self._queue.put((loop, batch))

    def _run(self) -> None:
        while True:
            loop, batch = self._queue.get()
            results = [ecdsa_ok(signed) for signed, _ in batch]
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_deliver, batch, results)


_WORKER = _Worker()


def _deliver(batch: Batch, results: list[bool | None]) -> None:
    for (_, fut), ok in zip(batch, results, strict=True):
        if not fut.done():
            fut.set_result(ok)


class EcdsaBatcher:
    """Batches one intake's signature checks (one event loop's) for the worker thread."""

    def __init__(self, max_batch: int = 256, chunk: int = 8) -> None:
        self.max_batch = max_batch
        self.chunk = chunk
        self._pending: Batch = []
        self.batches = 0
        """Batches handed to the worker thread."""
        self.checked = 0
        """Orders checked on the worker thread."""
        self.inline = 0
        """Orders checked alone, on the loop."""
        self.shared = 0
        """Copies that waited for the same order's check already under way."""
        self._in_flight: dict[tuple[bytes, bytes, str], asyncio.Future[bool | None]] = {}

    async def ecdsa_ok(self, signed: SignedOrder) -> bool | None:
        """``ecdsa_ok(signed)``, computed on the worker thread with the others of this turn."""
        if len(signed.signature) != 65:
            return None
        key = (signed.hash, signed.signature, signed.order.maker)
        same = self._in_flight.get(key)
        if same is not None:  # another copy (a second peer's) is being checked: share it
            self.shared += 1
            return await asyncio.shield(same)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[bool | None] = loop.create_future()
        self._in_flight[key] = fut
        fut.add_done_callback(lambda _: self._in_flight.pop(key, None))
        if not self._pending:
            loop.call_soon(self._hand_over, loop)  # after every coroutine ready this turn
        self._pending.append((signed, fut))
        if len(self._pending) >= self.max_batch:
            self._hand_over(loop)
        return await fut

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """In chunks: the first ones come back (and go on) while the rest are recovered.
        A lone order is recovered here, on the loop: there is nothing to overlap it with,
        and waking a thread costs more than that on a busy machine."""
        pending, self._pending = self._pending, []
        if len(pending) == 1:
            self.inline += 1
            _deliver(pending, [ecdsa_ok(pending[0][0])])
            return
        for i in range(0, len(pending), self.chunk):
            batch = pending[i : i + self.chunk]
            self.batches += 1
            self.checked += len(batch)
            _WORKER.put(loop, batch)
