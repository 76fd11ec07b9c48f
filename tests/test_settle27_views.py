"""settle27: the settlement's per-match reads without state views, and the order event's
text with the order's text captured at publish, give what the views and the encoder gave.

- ``OrderBook.find`` and ``entry_status`` against ``get``/``BookOrderState.status`` after
  every operation of the book differential test's random sequences (compiled or pure,
  whichever this process runs).
- ``order_event_text`` against ``encode_json`` of the same event, for any ``metaData``
  values (strings with anything to escape, floats incl. inf/nan, other keys or types), with
  the order's text as it was at publish time or encoded again.
"""

from __future__ import annotations

import math
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdex.book import entry_status
from sdex.model import OrderStatus
from sdex.node.events import encode_json
from sdex.node.heldrecord import Record, order_event_text
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from tests.bookdriver import DOMAIN, Driver
from tests.test_book_native import _ops


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_ops())
def test_entry_reads_agree_with_the_views(ops: list[list[Any]]) -> None:
    d = Driver()
    seen: set[bytes] = set()
    for op in ops:
        d.op(op)
        for view in d.book:
            seen.add(view.hash)
        for h in seen:
            view = d.book.get(h)
            e = d.book.find(h)
            if view is None:
                assert e is None
                continue
            assert e is d.book.entry(h)
            assert entry_status(e) is view.status
            assert (e.filled, e.pending, e.closed) == (view.filled, view.pending, view.closed)
            assert (0 if e.parked else e.fillable) == view.fillable or e.closed is not None
    assert d.book.find(b"\x01" * 32) is None


def _record(source: str, reason: str) -> Record:
    o = Order("0x" + "11" * 20, ZERO_ADDRESS, "0x" + "22" * 20, "0x" + "33" * 20, 10, 20,
              ZERO_ADDRESS, 0, 2_000_000_000, 7)  # fmt: skip
    rec = Record(SignedOrder(o, bytes(65), DOMAIN.order_hash(o)), 1, source, OrderStatus.NEW)
    rec.reason = reason
    return rec


_VALUE = st.one_of(
    st.text(max_size=12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**30), 10**30),
    st.none(),
)
_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["http", "peer:127.0.0.1:9", 'é\n"\\']))
_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(0, 2**40))


def _meta(rec: Record, status: str, amounts: list[Any], created: Any) -> dict[str, Any]:
    return {  # as ``HeldOrders.meta`` makes it (``publish`` adds ``publishedAt``)
        "orderHash": rec.signed.hash_hex,
        "status": status,
        "filledMakerAmount": amounts[0],
        "pendingMakerAmount": amounts[1],
        "remainingFillableMakerAmount": amounts[2],
        "remainingMakerAmount": amounts[3],
        "createdAt": created,
        "source": rec.source,
        "reason": rec.reason,
    }


@settings(max_examples=300, deadline=None)
@given(
    status=st.one_of(st.sampled_from(list(OrderStatus)), st.text(max_size=8)),
    amounts=st.lists(st.one_of(st.integers(0, 10**40).map(str), _VALUE), min_size=4, max_size=4),
    created=_FLOAT,
    published=_FLOAT,
    source=_TEXT,
    reason=_TEXT,
    extra=st.booleans(),
    captured=st.booleans(),
)
def test_order_event_text_is_the_encoders(
    status: str,
    amounts: list[Any],
    created: Any,
    published: Any,
    source: str,
    reason: str,
    extra: bool,
    captured: bool,
) -> None:
    rec = _record(source, reason)
    meta = {**_meta(rec, status, amounts, created), "publishedAt": published}
    if extra:
        meta = {"first": 1, **meta}
    ev = {"seq": 5, "type": "order", "event": status, "order": rec.json, "metaData": meta}
    text = rec.text() if captured else None
    rec.json_text = None  # (a record closed since: its text dropped)
    got = order_event_text(ev, rec, text)
    assert isinstance(ev["metaData"]["sentAt"], float)
    assert got == encode_json(ev)  # (``sentAt`` stamped on the event's own dict)


def test_order_event_text_of_a_usual_event() -> None:
    rec = _record("http", "filled")
    meta = _meta(rec, OrderStatus.FILLED, ["10", "0", "0", "0"], time.time())
    meta["publishedAt"] = time.time()
    ev = {"seq": 9, "type": "order", "event": OrderStatus.FILLED, "order": rec.json}
    ev["metaData"] = meta
    got = order_event_text(ev, rec)
    assert got == encode_json(ev)
    assert '"status": "filled"' in got and math.isfinite(ev["metaData"]["sentAt"])
