"""``sdex.testhooks.shortened``: a test-only hook shortens a product timer, never lengthens it
(suite89). Tests set ``$SDEX_TEST_EVICT_SECONDS`` for the ``sdex node`` processes they start
(chaos74_evicted_seed, gossip69_cut_seed); an operator cannot make a timer longer with it.

small94: a value above the product's timer (or a product constant a test lowered in-process:
chaos52's ``RESTART_RECEIPT_WAIT`` 0.5 s under conftest's ``quick_restart_receipts``, 1 s)
raised ``ValueError``, failing the node's start; now the smaller is taken, and a junk value
is warned of, the product's kept."""

from __future__ import annotations

import logging

import pytest

from sdex.gossip.peers import EVICT_SECONDS, Peers
from sdex.settlement import reconcile
from sdex.testhooks import shortened


def test_unset_keeps_the_product_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDEX_TEST_EVICT_SECONDS", raising=False)
    assert shortened("EVICT_SECONDS", EVICT_SECONDS, 1.0) == EVICT_SECONDS
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", " ")
    assert Peers("k", "http://127.0.0.1:1").evict_seconds == EVICT_SECONDS


def test_a_shorter_value_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", "4")
    assert Peers("k", "http://127.0.0.1:1").evict_seconds == 4.0


def test_a_longer_value_keeps_the_product_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """(small94; before: ``ValueError``) A hook only shortens."""
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", "31")
    assert shortened("EVICT_SECONDS", EVICT_SECONDS, 1.0) == EVICT_SECONDS


def test_a_value_above_a_constant_a_test_lowered_takes_the_lower(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """chaos52's 0.5 s in-process under ``quick_restart_receipts``' 1 s (small94; before:
    ``ValueError`` out of ``reconcile``, the start failed)."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    monkeypatch.setenv("SDEX_TEST_RESTART_RECEIPT_WAIT", "1")
    wait = shortened("RESTART_RECEIPT_WAIT", reconcile.RESTART_RECEIPT_WAIT, 0.5)
    assert wait == 0.5


@pytest.mark.parametrize("raw", ["0.5", "nan", "inf", "-1", "four"])
def test_a_junk_value_is_warned_of_and_the_product_timer_kept(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, raw: str
) -> None:
    """(small94; before: ``ValueError``, the node's start failed over a test hook.)"""
    monkeypatch.setenv("SDEX_TEST_EVICT_SECONDS", raw)
    with caplog.at_level(logging.WARNING, logger="sdex.testhooks"):
        assert shortened("EVICT_SECONDS", EVICT_SECONDS, 1.0) == EVICT_SECONDS
    assert "SDEX_TEST_EVICT_SECONDS" in caplog.text and raw in caplog.text, caplog.text
