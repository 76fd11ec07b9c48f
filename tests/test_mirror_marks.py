"""The mirror's marks read back from a real store: a read-back row never outlives a change
(a rebuilt filter, a fill after it), a lookup that found no row is not kept."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sdex.hashfilter import HashFilter
from sdex.mirror.marks import OrderMarks
from sdex.store import ChainIdentity, Store
from tests.test_book import DOMAIN

HEAD = (1, "0x" + "22" * 32, 0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    identity = ChainIdentity(DOMAIN.chain_id, DOMAIN.verifying_contract, "0x" + "11" * 32)
    s = Store(tmp_path / "m.db", identity, DOMAIN)
    try:
        yield s
    finally:
        s.close()


def marks_of(store: Store) -> OrderMarks:
    m = OrderMarks(capacity=1000)
    m.lookup = store.mirror_order_now
    return m


async def rebuilt(m: OrderMarks, store: Store) -> HashFilter:
    """The filter the watcher rebuilds from the store (``Watcher._grow_marks``)."""
    bigger = HashFilter(2 * m.evicted.capacity)
    await store.each_mark(bigger.add)
    return bigger


async def test_a_fill_after_a_rebuild_is_not_hidden_by_a_cached_row(store: Store) -> None:
    """A row read back (0, not cancelled: a fill a reorg undid), the filter rebuilt without
    the hash (a zero row), then a fill of it: its next reads give the fill, not the cached
    row (before: ``take`` left the cached row, and the next fill added to 0)."""
    x, other = os.urandom(32), os.urandom(32)
    await store.save_mirror(HEAD, {x: (0, False), other: (5, False)}, {}, {})
    m = marks_of(store)
    m.evicted.add(x)  # evicted once with a fill, since undone (its row saved as 0)
    m.evicted.add(other)
    assert m.get(x) == (0, False) and x in m.cache
    m.evicted = await rebuilt(m, store)  # as the watcher did before ``refilter``
    assert x not in m.evicted
    f, _ = m.take(x)
    m.filled[x] = f + 10  # filled on the chain
    await store.save_mirror(HEAD, {x: (10, False)}, {}, {})
    m.settle([x])
    assert m.evict(set()) == 1
    assert m.get(x) == (10, False)
    assert m.take(x) == (10, False)  # the next fill adds to 10


async def test_a_rebuilt_filter_drops_the_cache(store: Store) -> None:
    x = os.urandom(32)
    await store.save_mirror(HEAD, {x: (0, True)}, {}, {})
    m = marks_of(store)
    m.evicted.add(x)
    assert m.get(x) == (0, True) and x in m.cache
    m.refilter(await rebuilt(m, store))
    assert not m.cache and x in m.evicted and m.get(x) == (0, True)


async def test_a_lookup_that_finds_no_row_is_not_cached(store: Store) -> None:
    await store.save_mirror(HEAD, {os.urandom(32): (5, False) for _ in range(3000)}, {}, {})
    m = marks_of(store)
    await store.each_mark(m.evicted.add)
    while True:  # a false "maybe" (a peer could grind salts for one)
        h = os.urandom(32)
        if h in m.evicted:
            break
    assert m.get(h) == (0, False) and m.lookups == 1
    assert h not in m.cache


def test_the_filter_index_is_keyed_per_process() -> None:
    """Two filters of the same hashes set different bits (a random key mixed into the
    index): which hashes collide cannot be worked out from the public hashes."""
    hashes = [os.urandom(32) for _ in range(100)]
    a, b = HashFilter(1000), HashFilter(1000)
    for h in hashes:
        a.add(h)
        b.add(h)
    assert all(h in a and h in b for h in hashes)
    assert a._bits != b._bits


def test_a_mirror_with_no_store_keeps_no_idle_set() -> None:
    """With nowhere to read a mark back from, nothing is evicted, and the hashes waiting
    for eviction are not kept either (before: ``idle`` grew with every order for ever)."""
    m = OrderMarks()
    hashes = [os.urandom(32) for _ in range(10)]
    for h in hashes:
        m.take(h)
        m.filled[h] = 1
    m.settle(hashes)
    assert m.evict(set()) == 0
    assert not m.idle and all(m.get(h) == (1, False) for h in hashes)


class CountingFilter(HashFilter):
    """A filter that counts its keyed hashes."""

    __slots__ = ("calls",)

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.calls = 0

    def _index(self, h: bytes) -> int:
        self.calls += 1
        return super()._index(h)


async def test_an_empty_filter_answers_without_hashing_and_an_evicted_mark_is_read_back(
    store: Store,
) -> None:
    """Nothing evicted yet (the filter's count 0): a new order's ``get`` and ``take`` ask
    nothing (no keyed hash, no store read); once one mark is evicted, its row comes back."""
    m = marks_of(store)
    m.evicted = counting = CountingFilter(1000)
    fresh = [os.urandom(32) for _ in range(50)]
    assert [m.get(h) for h in fresh[:25]] == [(0, False)] * 25
    assert [m.take(h) for h in fresh[25:]] == [(0, False)] * 25
    assert (counting.calls, m.lookups) == (0, 0)
    gone = os.urandom(32)
    await store.save_mirror(HEAD, {gone: (7, True)}, {}, {})
    m.evicted.add(gone)
    assert m.get(gone) == (7, True) and m.lookups == 1
    assert m.take(os.urandom(32)) == (0, False) and counting.calls >= 2
