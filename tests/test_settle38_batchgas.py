"""A settlement batch's gas bound and size (``BatchGas``): slim backlog batches past what
fits with the fallback's room, the room again for their matches when one ran out of gas,
and the rate of those failures that stops slim batches (no chain: the arithmetic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.settlement.gas import (
    BASE_GAS,
    GAS_PER_MATCH,
    LONE_GAS,
    MAX_TX_GAS,
    ROOM_FAIL_PAUSE,
    SLIM_FAIL_EVERY,
    BatchGas,
    fitting_batch,
)


def taught(seen: int, max_batch: int = 64, backlog_batch: int = 256) -> BatchGas:
    g = BatchGas(max_batch, backlog_batch)
    g.seen = seen
    return g


@pytest.mark.parametrize(
    ("seen", "waiting", "size"),
    [
        (0, 300, 64),  # nothing learned: the fallback-safe bound, 63 fit (max_batch 64)
        (0, 40, 40),
        (88_680, 64, 64),  # not a backlog
        (88_680, 300, fitting_batch(int(88_680 * 1.5))),  # slim: 119
        (88_680, 100, 100),
        (30_000, 1_000, 256),  # backlog_batch caps it
        (200_000, 300, 64),  # slim or not, fewer fit than max_batch
    ],
)
def test_batch_sizes(seen: int, waiting: int, size: int) -> None:
    assert taught(seen).batch_size(waiting) == size


def test_a_batch_past_what_fits_with_room_is_slim_and_counted() -> None:
    g = taught(88_680)
    safe = g.safe_size()
    assert safe == fitting_batch(int(88_680 * 2.2)) == 81
    assert g.limit(1, True) == (LONE_GAS, False)
    assert g.limit(64, False) == (MAX_TX_GAS, False)  # (64 x 250k capped)
    assert g.limit(safe, False) == (BASE_GAS + int(88_680 * 2.2) * safe, False)
    assert g.limit(safe + 1, False) == (BASE_GAS + int(88_680 * 1.5) * (safe + 1), True)
    assert (g.backlog_sent, g.slim_sent) == (2, 1)
    # a slim batch's matches going again: never slim, even where a receipt taught since
    # that fewer fit with the room than when they were split
    (part,) = g.split(safe)
    g.seen = 100_000
    assert part > g.safe_size() and g.slim_per_match() is not None
    assert g.limit(part, False, room=True) == (MAX_TX_GAS, False)


def test_a_slim_batch_that_ran_out_goes_again_and_slim_ones_pause() -> None:
    g = taught(88_680)
    g.backlog_sent = 5
    assert g.ran_out(119, 0, 15_890_000, 15_890_000, slim=True)
    assert g.slim_out_of_gas == 1 and g.out_of_gas == 0
    assert g.slim_per_match() is None and g.batch_size(300) == g.safe_size()
    g.backlog_sent = SLIM_FAIL_EVERY  # one failure in SLIM_FAIL_EVERY backlog batches
    assert g.slim_per_match() == int(88_680 * 1.5)


@pytest.mark.parametrize(
    ("matches", "status", "used", "slim", "again", "out_of_gas"),
    [
        (119, 0, 15_000_000, True, True, 0),  # slim, all its gas used
        (119, 0, 14_000_000, True, False, 0),  # reverted with gas left: not for gas
        (80, 0, 15_000_000, False, True, 1),  # with room: again, learning paused
        (64, 0, 15_000_000, False, False, 0),  # max_batch or fewer: GAS_PER_MATCH each
        (119, 1, 10_000_000, True, False, 0),
    ],
)
def test_a_receipt_that_reverted(
    matches: int, status: int, used: int, slim: bool, again: bool, out_of_gas: int
) -> None:
    g = taught(88_680)
    assert g.ran_out(matches, status, used, 15_000_000, slim) is again
    assert g.out_of_gas == out_of_gas
    if out_of_gas:
        assert g.per_match() == GAS_PER_MATCH and g.slim_per_match() is None


def test_a_batch_with_room_out_of_gas_pauses_the_learning_for_a_while() -> None:
    """blame44: it turned the learning off for the node's life (a maker that empties its
    balance before its match settles can make such a batch run the fallback)."""
    now = [1_000.0]
    g = BatchGas(64, 256, clock=lambda: now[0])
    g.seen = 88_680
    assert g.ran_out(81, 0, 15_000_000, 15_000_000, slim=False)
    assert g.per_match() == GAS_PER_MATCH and g.slim_per_match() is None
    assert g.safe_size() == 64 and g.split(81) == [41, 40]  # (again at GAS_PER_MATCH)
    now[0] += ROOM_FAIL_PAUSE - 1
    assert g.per_match() == GAS_PER_MATCH and g.batch_size(300) == 64
    now[0] += 1
    assert g.per_match() == int(88_680 * 2.2) and g.batch_size(300) == 119
    assert g.ran_out(81, 0, 15_000_000, 15_000_000, slim=False)  # (again: paused again)
    assert g.out_of_gas == 2 and g.batch_size(300) == 64


def test_learning_takes_the_most_of_batches_of_eight_or_more() -> None:
    g = BatchGas(64, 256)
    g.learn(7, BASE_GAS + 7 * 300_000)
    assert g.seen == 0 and g.slim_per_match() is None
    g.learn(8, BASE_GAS + 8 * 90_000)
    g.learn(100, BASE_GAS + 100 * 80_000)
    assert g.seen == 90_000


@given(st.integers(65, 256), st.integers(40_000, 113_000))
def test_split_goes_in_even_batches_with_room(matches: int, seen: int) -> None:
    g = taught(seen)
    sizes = g.split(matches)
    assert sum(sizes) == matches and max(sizes) - min(sizes) <= 1
    assert max(sizes) <= g.safe_size() and len(sizes) == -(-matches // g.safe_size())
    for n in sizes:
        assert not g.limit(n, n == 1)[1]


@pytest.mark.parametrize("why", ["a slim batch ran out", "a batch with room ran out"])
def test_a_batch_sized_slim_is_sent_slim_when_slim_ones_paused_meanwhile(why: str) -> None:
    """review39: the run loop sizes a batch (``batch_size``) and its flight asks its gas
    (``limit``) a loop step later; a receipt between them (another flight's: a slim batch
    that ran out, which pauses slim ones; or one with room, which pauses learning) left
    the batch sized slim sent as one with room: capped at ``MAX_TX_GAS``, without the
    fallback's room, and if it ran out too, learning went off for good and its matches
    were judged, not sent again (a batch with room that runs out goes again too: blame44)."""
    g = taught(88_680)
    g.backlog_sent = 5
    n = g.batch_size(300)
    assert n == 119 and n > g.safe_size()
    if why == "a slim batch ran out":
        assert g.ran_out(119, 0, 15_890_000, 15_890_000, slim=True)
    else:
        assert g.ran_out(81, 0, 15_000_000, 15_000_000, slim=False)
    assert g.slim_per_match() is None
    gas, slim = g.limit(n, False)
    assert gas < BASE_GAS + g.per_match() * n  # no room for the fallback: so slim
    assert slim
    assert g.ran_out(n, 0, gas, gas, slim)  # its matches go again (with room)
    assert g.out_of_gas == (0 if why == "a slim batch ran out" else 1)
