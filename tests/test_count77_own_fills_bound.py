"""count77: a start reads back at most ``OWN_FILLS_ABOVE`` of the node's own settlements with
fills above the saved head, the lowest blocks', and says so past it.

chaos74's ``own_fill_txs_above`` (a start's: those counted as given up, their fills of
one-shot orders closed at the restart counted in them) had no bound: a store whose head went
unsaved for long while the settler's fills committed had the start read and hold every one.
Real SQLite, the node's store."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from sdex.store import Store, StoredFill
from sdex.storesettle import OWN_FILLS_ABOVE
from tests.test_book import DOMAIN, A, B
from tests.test_listing_cursor import IDENTITY

HEAD = 10


def _fill(block: int, ours: bool, k: int = 0) -> StoredFill:
    """Log ``k`` of block ``block``: of the node's one settlement there (``ours``), or of
    another's transaction."""
    return StoredFill(
        tx_hash=f"0x{block:032x}{0:031x}{int(ours)}",
        log_index=k,
        block_number=block,
        order_hash=bytes([1 + k % 200]) * 32,
        maker=A,
        taker=B,
        maker_filled=1,
        taker_filled=2,
        fee_recipient=B,
        fee=0,
        ours=ours,
    )


@pytest.mark.parametrize("settlements", [3, OWN_FILLS_ABOVE, OWN_FILLS_ABOVE + 44])
def test_own_fills_above_the_head_are_read_back_bounded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, settlements: int
) -> None:
    store = Store(tmp_path / "s.db", IDENTITY, DOMAIN)
    try:
        fills = [_fill(HEAD - 1, True), _fill(HEAD, True)]  # (at or below the head: not read)
        for i in range(settlements):  # (two fills each, and another's fill in its block)
            block = HEAD + settlements - i  # (stored highest first)
            fills += [_fill(block, True, 0), _fill(block, True, 1), _fill(block, False, 2)]
        store.add_fills(fills)
        caplog.set_level(logging.WARNING, "sdex.store")
        got = store.own_fills_above(HEAD)
        kept = min(settlements, OWN_FILLS_ABOVE)
        assert len(got) == kept  # (before: every one, 300)
        assert [b for _, b in got] == list(range(HEAD + 1, HEAD + 1 + kept))  # (the lowest)
        assert len(set(got)) == kept
        said = [r for r in caplog.records if "own settlements with fills above" in r.message]
        assert bool(said) == (settlements > OWN_FILLS_ABOVE)
    finally:
        store.close()
