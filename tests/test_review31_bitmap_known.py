"""review31: the bitmap orders' salts the mirror knows (``sdex.mirror.bitmaps``) are learnt
from every order it is asked about (``Mirror.state``: intake), accepted or not, and a
stranger's orders are free to sign with fresh keys. Past ``MAX_KNOWN`` of them the watch
gave up for good (``resumed``: until a chain reset), so anyone could turn the mirror's
judging of bitmap orders off: every later one read from the chain. Evicting the oldest
salt is as safe (a fill of an order whose salt is not known taints its maker: the chain
is read for all of that maker's bitmap orders) and keeps the bound."""

from __future__ import annotations

import pytest

from sdex.mirror import bitmaps
from sdex.mirror.bitmaps import BitmapWatch

BOUND = 64


@pytest.fixture(autouse=True)
def _small_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bitmaps, "MAX_KNOWN", BOUND)


def _h(i: int) -> bytes:
    return i.to_bytes(32, "big")


def test_strangers_orders_past_the_bound_leave_honest_orders_judgeable() -> None:
    w = BitmapWatch()
    for i in range(10 * BOUND):  # fresh keys' orders, each asked about once (refused)
        w.judgeable(_h(1_000_000 + i), f"0x{i:040x}", i)
    assert w.judgeable(_h(1), "0xhonest", 7)  # (before: False until a chain reset)
    assert len(w._known) <= BOUND


def test_an_evicted_orders_fill_still_moves_its_maker_to_the_chain() -> None:
    w = BitmapWatch()
    assert w.judgeable(_h(1), "0xmaker", 7)
    for i in range(2 * BOUND):  # (its salt evicted)
        w.judgeable(_h(1_000_000 + i), f"0x{i:040x}", i)
    w.seen(_h(1), "0xMaker")  # filled: its salt no longer known here
    assert not w.judgeable(_h(1), "0xmaker", 7)
    assert not w.judgeable(_h(2), "0xmaker", 8)  # (any nonce of that maker: unknown)
    assert w.judgeable(_h(3), "0xother", 7)
