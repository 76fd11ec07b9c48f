"""Batched ECDSA recovery on the worker thread: the same verdicts as recovering inline."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from sdex.ingest.cores import SpareCore, loop_thread_schedstat
from sdex.ingest.verify import EcdsaBatcher, ecdsa_ok, parts
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, address_of, random_salt, sign_order

DOMAIN = Domain(31337, "0x" + "ab" * 20)


def _spare() -> SpareCore:
    """A core always spare (no reading: the thread's path whatever the machine's load)."""
    return SpareCore(read=lambda: None)


def _signed(i: int) -> SignedOrder:
    key = (i + 1).to_bytes(32, "big")
    o = Order(
        address_of(key), ZERO_ADDRESS, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18, 3000 * 10**6, ZERO_ADDRESS, 0, 2**40, random_salt(),
    )  # fmt: skip
    return sign_order(o, DOMAIN, key)


async def test_batched_verdicts_equal_inline_ones() -> None:
    good = [_signed(i) for i in range(40)]
    other_maker = dataclasses.replace(good[0], order=good[1].order)  # signed by someone else
    bad_v = dataclasses.replace(good[2], signature=good[2].signature[:64] + b"\x05")
    high_s = dataclasses.replace(
        good[3], signature=good[3].signature[:32] + b"\xff" * 32 + good[3].signature[64:]
    )
    contract_wallet = dataclasses.replace(good[4], signature=b"\x01" * 100)  # EIP-1271 bytes
    orders = [*good, other_maker, bad_v, high_s, contract_wallet]
    batcher = EcdsaBatcher(chunk=8, spare_core=_spare())
    verdicts = await asyncio.gather(*(batcher.ecdsa_ok(s) for s in orders))
    assert verdicts == [ecdsa_ok(s) for s in orders]
    assert verdicts[:40] == [True] * 40
    assert verdicts[40:] == [False, False, False, None]
    # one loop turn's orders went together, back in parts of 8, 16 and the 19 left (the
    # EIP-1271 one never went)
    assert batcher.checked == 43
    assert batcher.batches == 3


async def test_a_lone_order_is_checked_on_the_loop_at_once() -> None:
    batcher = EcdsaBatcher(spare_core=_spare())
    assert await asyncio.wait_for(batcher.ecdsa_ok(_signed(1)), 10) is True
    bad = dataclasses.replace(_signed(2), order=_signed(3).order)
    assert await asyncio.wait_for(batcher.ecdsa_ok(bad), 10) is False
    assert (batcher.inline, batcher.batches, batcher.checked) == (2, 0, 0)


async def test_a_few_orders_in_a_turn_are_checked_on_the_loop() -> None:
    batcher = EcdsaBatcher(thread_min=4, spare_core=_spare())
    few = [_signed(10), _signed(11), dataclasses.replace(_signed(12), order=_signed(13).order)]
    assert await asyncio.gather(*(batcher.ecdsa_ok(s) for s in few)) == [True, True, False]
    assert (batcher.inline, batcher.batches, batcher.checked) == (3, 0, 0)
    four = [_signed(20 + i) for i in range(4)]  # as many as thread_min: the thread
    assert await asyncio.gather(*(batcher.ecdsa_ok(s) for s in four)) == [True] * 4
    assert (batcher.inline, batcher.batches, batcher.checked) == (3, 1, 4)


async def test_copies_of_one_order_in_flight_share_one_check() -> None:
    batcher = EcdsaBatcher(spare_core=_spare())
    one, other = _signed(7), _signed(8)
    verdicts = await asyncio.gather(*(batcher.ecdsa_ok(s) for s in (one, one, other, one)))
    assert verdicts == [True] * 4
    assert batcher.shared == 2
    assert batcher.checked + batcher.inline == 2
    assert await batcher.ecdsa_ok(one) is True  # done: a later copy is checked again
    assert batcher.shared == 2


async def test_a_copy_sharing_a_check_gets_its_verdict_when_the_first_caller_goes_away() -> None:
    """A served stream closing cancels its calls: the first copy's caller may be cancelled
    while another peer's copy waits on the same check; that copy still gets its verdict."""
    batcher = EcdsaBatcher(spare_core=_spare())
    one = _signed(9)
    first = asyncio.ensure_future(batcher.ecdsa_ok(one))
    second = asyncio.ensure_future(batcher.ecdsa_ok(one))
    await asyncio.sleep(0)  # the first copy's check is queued, the second shares it
    first.cancel()  # before the check ran
    assert await asyncio.wait_for(second, 10) is True
    assert first.cancelled() and batcher.shared == 1
    # and a copy whose own caller is cancelled is cancelled, not answered
    third = asyncio.ensure_future(batcher.ecdsa_ok(one))
    fourth = asyncio.ensure_future(batcher.ecdsa_ok(one))
    await asyncio.sleep(0)
    fourth.cancel()
    assert await asyncio.wait_for(third, 10) is True
    with contextlib.suppress(asyncio.CancelledError):
        await fourth
    assert fourth.cancelled()


async def test_a_chunk_is_checked_in_one_hand_over_and_answered_in_order() -> None:
    """``ecdsa_each`` (a peer's chunk, no task per order): the verdicts of ``ecdsa_ok``, in
    order, one hand-over; a copy already in flight shares its check; leaving early forgets
    the checks nobody waits for (a later copy is checked again)."""
    good = [_signed(30 + i) for i in range(12)]
    forged = dataclasses.replace(good[0], order=good[1].order)
    contract_wallet = dataclasses.replace(good[2], signature=b"\x01" * 100)
    chunk = [*good, forged, contract_wallet, good[5]]
    batcher = EcdsaBatcher(chunk=8, spare_core=_spare())
    elsewhere = asyncio.ensure_future(batcher.ecdsa_ok(good[3]))  # another peer's copy
    await asyncio.sleep(0)
    got = [ok async for ok in batcher.ecdsa_each(chunk)]
    assert got == [ecdsa_ok(s) for s in chunk] == [True] * 12 + [False, None, True]
    assert await elsewhere is True
    assert batcher.shared == 2  # good[3] (the other peer's check), good[5] (its own copy)
    assert batcher.checked + batcher.inline == 13
    each = batcher.ecdsa_each(good[:6])
    assert await anext(each) is True
    await each.aclose()  # the consumer went away after the first verdict
    assert not batcher._in_flight


@given(st.integers(0, 5_000), st.integers(1, 64))
def test_a_batch_comes_back_in_parts_doubling_from_the_first(n: int, first: int) -> None:
    """Every order of a batch in exactly one part, in order; the first part ``first`` long
    (its verdicts back as soon as before), each next one twice the last, the last cut short:
    O(log n) deliveries to the loop, not n / ``first``."""
    got = parts(n, first)
    assert [i for i, _ in got] == ([0] + [j for _, j in got])[: len(got)]
    assert (got[-1][1] if got else 0) == n
    sizes = [j - i for i, j in got]
    assert all(s > 0 for s in sizes)
    assert sizes[:-1] == [first * 2**k for k in range(len(sizes) - 1)]
    if sizes:
        assert 0 < sizes[-1] <= first * 2 ** (len(sizes) - 1)
    assert len(got) <= max(1, (n // first).bit_length() + 1)


class _Readings:
    """A thread's (ran, waited) nanoseconds, one reading a call, counted."""

    def __init__(self, *readings: tuple[int, int] | None) -> None:
        self.readings = list(readings)
        self.reads = 0

    def __call__(self) -> tuple[int, int] | None:
        self.reads += 1
        return self.readings.pop(0)


async def test_no_spare_core_recovers_a_turn_on_the_loop_and_keeps_every_verdict() -> None:
    """While the loop thread waits for a CPU as long as it runs (every core taken), a busy
    turn's orders are recovered on the loop, not handed to the thread; a forged order and
    a contract wallet's among them get their own verdicts, the good ones theirs."""
    busy = SpareCore(read=_Readings((1_000, 0), (2_000, 5_000)), clock=lambda: 0.0, interval=0.0)
    assert busy.spare() is True  # (one reading: nothing to compare yet)
    batcher = EcdsaBatcher(chunk=8, spare_core=busy)
    good = [_signed(60 + i) for i in range(16)]
    forged = dataclasses.replace(good[0], order=good[1].order)
    contract_wallet = dataclasses.replace(good[2], signature=b"\x01" * 100)
    chunk = [*good[:8], forged, *good[8:], contract_wallet]
    got = [ok async for ok in batcher.ecdsa_each(chunk)]
    assert got == [True] * 8 + [False] + [True] * 8 + [None]
    assert (batcher.batches, batcher.checked, batcher.inline, batcher.crowded) == (0, 0, 17, 17)
    assert busy.busy_windows == 1


async def test_a_few_orders_on_the_loop_are_not_counted_as_crowded() -> None:
    readings = _Readings((0, 0))
    batcher = EcdsaBatcher(thread_min=4, spare_core=SpareCore(read=readings))
    assert (
        await asyncio.gather(*(batcher.ecdsa_ok(_signed(80 + i)) for i in range(3))) == [True] * 3
    )
    assert (batcher.inline, batcher.crowded) == (3, 0)
    # the cores looked at once an interval at most (wait74: by every check, not by busy turns
    # alone: a verdict of a spare core stuck through a crowded run of small turns)
    assert readings.reads == 1


SPARE_CASES = [
    # (ran, waited) since the last reading -> spare?
    ((1_000, 0), True),
    ((1_000, 999), True),
    ((1_000, 1_000), False),  # waited as long as it ran: every core taken
    ((1_000, 9_000), False),
]


async def test_spare_core_verdicts_from_the_loop_threads_wait() -> None:
    for (ran, waited), spare in SPARE_CASES:
        core = SpareCore(read=_Readings((5, 7), (5 + ran, 7 + waited)), clock=lambda: 0.0,
                         interval=0.0)  # fmt: skip
        core.spare()
        assert core.spare() is spare, (ran, waited)


async def test_spare_core_reads_at_most_once_an_interval_and_keeps_a_verdict() -> None:
    now = [0.0]
    readings = _Readings((0, 0), (100, 500), (100, 900), None)
    core = SpareCore(read=readings, clock=lambda: now[0], interval=1.0)
    assert core.spare() is True
    assert core.spare() is True and readings.reads == 1  # within the interval: not read
    now[0] = 1.0
    assert core.spare() is False and readings.reads == 2  # waited 5x what it ran
    now[0] = 1.5
    assert core.spare() is False and readings.reads == 2
    now[0] = 2.0
    assert core.spare() is False and readings.reads == 3  # did not run: the last verdict
    now[0] = 3.0
    assert core.spare() is True and readings.reads == 4  # no schedstat: the thread, as before


def test_the_loop_threads_schedstat_counts_its_cpu() -> None:
    first = loop_thread_schedstat()
    if first is None:  # (not Linux: SpareCore takes a core to be spare)
        return
    sum(i * i for i in range(200_000))  # some CPU on this thread
    second = loop_thread_schedstat()
    assert second is not None
    assert second[0] > first[0] and second[1] >= first[1]
