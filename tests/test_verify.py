"""Batched ECDSA recovery on the worker thread: the same verdicts as recovering inline."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from sdex.ingest.verify import EcdsaBatcher, ecdsa_ok, parts
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, address_of, random_salt, sign_order

DOMAIN = Domain(31337, "0x" + "ab" * 20)


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
    batcher = EcdsaBatcher(chunk=8)
    verdicts = await asyncio.gather(*(batcher.ecdsa_ok(s) for s in orders))
    assert verdicts == [ecdsa_ok(s) for s in orders]
    assert verdicts[:40] == [True] * 40
    assert verdicts[40:] == [False, False, False, None]
    # one loop turn's orders went together, back in parts of 8, 16 and the 19 left (the
    # EIP-1271 one never went)
    assert batcher.checked == 43
    assert batcher.batches == 3


async def test_a_lone_order_is_checked_on_the_loop_at_once() -> None:
    batcher = EcdsaBatcher()
    assert await asyncio.wait_for(batcher.ecdsa_ok(_signed(1)), 10) is True
    bad = dataclasses.replace(_signed(2), order=_signed(3).order)
    assert await asyncio.wait_for(batcher.ecdsa_ok(bad), 10) is False
    assert (batcher.inline, batcher.batches, batcher.checked) == (2, 0, 0)


async def test_a_few_orders_in_a_turn_are_checked_on_the_loop() -> None:
    batcher = EcdsaBatcher(thread_min=4)
    few = [_signed(10), _signed(11), dataclasses.replace(_signed(12), order=_signed(13).order)]
    assert await asyncio.gather(*(batcher.ecdsa_ok(s) for s in few)) == [True, True, False]
    assert (batcher.inline, batcher.batches, batcher.checked) == (3, 0, 0)
    four = [_signed(20 + i) for i in range(4)]  # as many as thread_min: the thread
    assert await asyncio.gather(*(batcher.ecdsa_ok(s) for s in four)) == [True] * 4
    assert (batcher.inline, batcher.batches, batcher.checked) == (3, 1, 4)


async def test_copies_of_one_order_in_flight_share_one_check() -> None:
    batcher = EcdsaBatcher()
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
    batcher = EcdsaBatcher()
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
    batcher = EcdsaBatcher(chunk=8)
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
