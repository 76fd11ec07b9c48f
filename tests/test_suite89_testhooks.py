"""``sdex.testhooks.shortened``: a test-only hook shortens a product timer, never lengthens it
(suite89). Tests set ``$SDEX_TEST_EVICT_SECONDS`` for the ``sdex node`` processes they start
(chaos74_evicted_seed, gossip69_cut_seed); an operator cannot make a timer longer with it."""

from __future__ import annotations

import pytest

from sdex.gossip.peers import EVICT_SECONDS, Peers
from sdex.testhooks import shortened


def test_unset_keeps_the_product_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDEX_TEST_EVICT_SECONDS", raising=False)
    assert shortened("EVICT_SECONDS", EVICT_SECONDS, 1.0) == EVICT_SECONDS
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", " ")
    assert Peers("k", "http://127.0.0.1:1").evict_seconds == EVICT_SECONDS


def test_a_shorter_value_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", "4")
    assert Peers("k", "http://127.0.0.1:1").evict_seconds == 4.0


@pytest.mark.parametrize("raw", ["31", "0.5", "nan", "inf", "-1", "four"])
def test_a_value_out_of_bounds_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", raw)
    with pytest.raises(ValueError, match="SDEX_TEST_EVICT_SECONDS"):
        shortened("EVICT_SECONDS", EVICT_SECONDS, 1.0)
