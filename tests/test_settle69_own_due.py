"""settle69: the orders of let-go stubs waiting for the next apply (``OwnReceipts._due``,
filled past ``MAX_OVERFLOW``) had no bound: a watcher stalled while the settler went on kept
every one (failed before: 3 × the bound given back at once). And ``due`` found the orders,
payers and transactions whose blocks were reached by a walk over all held; it pops them off
a heap now (``sdex.mirror.heights``): what it gives back is checked here against the
held values themselves, after any run of notes, drops and applies."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.mirror import own as own_module
from sdex.mirror.own import OwnReceipts, Stub
from tests.test_mirror_ahead import PAYERS


def stub(block: int, orders: list[int], payers: list[int] = ()) -> Stub:  # type: ignore[assignment]
    return Stub(
        f"0x{block:x}",
        block,
        tuple(i.to_bytes(32, "big") for i in orders),
        tuple(PAYERS[p] for p in payers),
        0.0,
    )


def test_the_orders_waiting_for_the_next_apply_are_bounded(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bound = 8
    monkeypatch.setattr(own_module, "MAX_OVERFLOW", bound)
    own = OwnReceipts(cap=1, stub_cap=1)
    for i in range(4 * bound + 1):  # (no apply meanwhile: a stalled watcher)
        own.note(f"0x{i:x}", stub(100 + i, [i]))
    assert len(own.overflow) == bound
    with caplog.at_level(logging.WARNING, "sdex.mirror"):
        due = own.due(0)  # (below every block: the ones let go past the bound alone)
    assert len(due) == bound  # (before: 3 * bound, every one let go since the last apply)
    newest = {i.to_bytes(32, "big") for i in range(2 * bound, 3 * bound)}
    assert due == newest  # (the latest let go kept; the oldest ones said in the log)
    assert f"{bound * 2} orders of let-go settlements not judged again" in caplog.text
    assert own.due(0) == set()  # (taken out)


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("note"),
            st.integers(0, 30),
            st.integers(1, 12),
            st.lists(st.integers(0, 6), max_size=3),
            st.lists(st.integers(0, 2), max_size=2),
        ),
        st.tuples(st.just("due"), st.integers(0, 14)),
        st.tuples(st.just("drop"), st.integers(0, 30), st.integers(0, 12)),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(steps, st.integers(0, 3))
def test_due_gives_back_exactly_the_let_go_keys_whose_blocks_are_reached(
    run: list[tuple[Any, ...]], stub_cap: int
) -> None:
    own = OwnReceipts(cap=0, stub_cap=stub_cap)
    for step in run:
        if step[0] == "note":
            own.note(f"0x{step[1]:x}", stub(step[2], step[3], step[4]))
        elif step[0] == "drop":
            own.drop([f"0x{step[1]:x}"], step[2])
        else:
            n = step[1]
            orders = {o for o, h in own.overflow.items() if h <= n}
            kept = {o: h for o, h in own.overflow.items() if h > n}
            payers = {a: h for a, h in own.overflow_payers.items() if h > n}
            txs = {t: v for t, v in own.overflow_txs.items() if v[0] > n}
            assert orders <= own.due(n)
            assert dict(own.overflow) == kept  # (those not reached held, with their heights)
            assert dict(own.overflow_payers) == payers
            assert dict(own.overflow_txs) == txs
