"""A wallet's signature check on a crowded loop (http62, issue 11): while no core is spare,
``EcdsaBatcher.ecdsa_ok`` gives its verdict at once, on the loop, without waiting for the
turn's end (no future, no second wake-up of the request's task); a copy of the order already
in flight still shares that check, and once a core is spare again the turn's orders go to
the worker thread together as before."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from typing import Any

from sdex.ingest.cores import SpareCore
from sdex.ingest.verify import EcdsaBatcher
from tests.test_verify import _Readings, _signed


def _at_once(coro: Coroutine[Any, Any, bool | None]) -> bool | None:
    """The coroutine's result if it ends without suspending once; fails if it waits."""
    try:
        coro.send(None)
    except StopIteration as done:
        return bool(done.value) if done.value is not None else None
    coro.close()
    raise AssertionError("the check waited for the loop's turn to end")


async def test_a_crowded_loop_checks_a_wallets_signature_at_once() -> None:
    # (ran, waited) readings: the second says the loop waited 3x what it ran (no core spare),
    # the third that it did not wait (a core spare again)
    readings = _Readings((1_000, 0), (2_000, 3_000), (3_000, 3_000), (4_000, 9_000), (5_000, 9_000))
    clock = [0.0]
    core = SpareCore(read=readings, clock=lambda: clock[0], interval=1.0)
    assert core.spare() is True
    clock[0] = 1.0
    assert core.spare() is False  # every core taken
    batcher = EcdsaBatcher(thread_min=1, spare_core=core)
    good, other = _signed(1), _signed(2)
    forged = dataclasses.replace(good, order=other.order)
    assert _at_once(batcher.ecdsa_ok(good)) is True
    assert _at_once(batcher.ecdsa_ok(forged)) is False
    assert _at_once(batcher.ecdsa_ok(dataclasses.replace(good, signature=b"\x01" * 100))) is None
    assert (batcher.inline, batcher.crowded, batcher.handovers) == (2, 2, 0)
    assert not batcher._in_flight and not batcher._pending
    assert readings.reads == 2  # (re-judged at most once an interval: not read again)

    # a copy already in flight (a peer's chunk, queued for the turn's end while a core was
    # spare) shares its check once the loop is crowded again
    clock[0] = 2.0
    chunk = batcher.ecdsa_each([other])
    first = asyncio.ensure_future(anext(chunk))
    await asyncio.sleep(0)
    assert batcher._in_flight
    clock[0] = 3.0  # every core taken again
    second = asyncio.ensure_future(batcher.ecdsa_ok(other))
    assert await asyncio.gather(first, second) == [True, True]
    await chunk.aclose()
    assert batcher.shared == 1 and (batcher.inline, batcher.crowded) == (3, 3)

    clock[0] = 4.0  # a core spare again: the turn's orders go to the thread together
    four = [_signed(10 + i) for i in range(4)]
    assert await asyncio.gather(*(batcher.ecdsa_ok(s) for s in four)) == [True] * 4
    assert batcher.handovers == 1 and batcher.checked == 4
    assert readings.reads == 5
