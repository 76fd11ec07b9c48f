"""An order event's ``metaData`` formatted directly (``event_meta_text``, cpu30, issue 11:
the dict's encoding was ~2% of a node at load): ``json.dumps``'s text byte for byte when
the shape is the usual one; every other shape encoded (table-driven)."""

from __future__ import annotations

import enum
import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.model import OrderStatus
from sdex.node.heldrecord import EVENT_META_KEYS, event_meta_text


def _usual() -> dict[str, Any]:
    now = time.time()
    return {
        "orderHash": "0x" + "ab" * 32,
        "status": OrderStatus.OPEN,
        "filledMakerAmount": "0",
        "pendingMakerAmount": "0",
        "remainingFillableMakerAmount": "10",
        "remainingMakerAmount": "10",
        "createdAt": now - 1.5,
        "source": "peer:127.0.0.1:9",
        "reason": "",
        "publishedAt": now,
        "sentAt": now + 0.001,
    }


class Later(float):
    def __repr__(self) -> str:
        return "later"


class Named(enum.StrEnum):
    ODD = 'o"dd\u00e9'


def _with(**kw: Any) -> dict[str, Any]:
    return _usual() | kw


def _swapped() -> dict[str, Any]:
    m = _usual()
    return {"status": m.pop("status"), **m}


def _without(key: str) -> dict[str, Any]:
    m = _usual()
    del m[key]
    return m


@pytest.mark.parametrize(
    "meta",
    [
        _usual(),
        _with(status=Named.ODD),
        _with(reason='a "quoted" \\ reason\n\u2603'),
        _with(source="\x00\x1f"),
        _with(createdAt=1),
        _with(createdAt=True),
        _with(publishedAt=float("nan")),
        _with(publishedAt=float("inf")),
        _with(sentAt=float("-inf")),
        _with(sentAt=Later(1.0)),
        _with(filledMakerAmount=10),
        _with(pendingMakerAmount=None),
        _with(remainingMakerAmount=["1"]),
        _with(orderHash=b"\x01"),
        _swapped(),
        _without("sentAt"),
        _without("orderHash"),
        _usual() | {"extra": 1},
        {},
    ],
)
def test_event_meta_text_is_the_encoders_for_any_shape(meta: dict[str, Any]) -> None:
    try:
        want = json.dumps(meta)
    except (TypeError, ValueError):
        with pytest.raises((TypeError, ValueError)):
            event_meta_text(meta)
        return
    assert event_meta_text(meta) == want


@settings(max_examples=300, deadline=None)
@given(
    strings=st.lists(st.text(max_size=10), min_size=8, max_size=8),
    floats=st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3),
)
def test_event_meta_text_is_json_dumps(strings: list[str], floats: list[float]) -> None:
    values: list[Any] = list(strings)
    for i, x in zip((6, 9, 10), floats, strict=True):
        values.insert(i, x)
    meta = dict(zip(EVENT_META_KEYS, values, strict=True))
    assert event_meta_text(meta) == json.dumps(meta)
