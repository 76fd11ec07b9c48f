"""A settled fill's websocket event formatted from the fill (``fill_event_text``, anvil50:
two a settled match, each walked by the JSON encoder before): ``json.dumps``'s text of
the event byte for byte, whatever the fill's values; any other shape encoded. And the
settler's fills decoded as the node's stored fills at once (``Exchange.fills_as`` with
``own_fill``): the same fields as ``fills`` then ``StoredFill.of(f, True)``."""

from __future__ import annotations

import functools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.chain.exchange import Exchange
from sdex.chain.receipt import Log
from sdex.node.events import EventHub
from sdex.node.settlefills import _fill_event, fill_event_text, own_fills
from sdex.store import StoredFill, own_fill

_text = st.text(max_size=70)
_uint = st.integers(min_value=0, max_value=2**256 - 1)
_count = st.integers(min_value=0, max_value=2**63 - 1)


@st.composite
def _fills(draw: st.DrawFn) -> StoredFill:
    return StoredFill(
        order_hash=draw(st.binary(min_size=32, max_size=32)),
        maker=draw(_text),
        taker=draw(_text),
        maker_filled=draw(_uint),
        taker_filled=draw(_uint),
        fee_recipient=draw(_text),
        fee=draw(_uint),
        block_number=draw(_count),
        tx_hash=draw(_text),
        log_index=draw(_count),
        ours=draw(st.booleans()),
    )


def _published(seq: int, f: StoredFill) -> dict[str, Any]:
    """The event as ``EventHub.publish`` made it: its ``seq`` first."""
    return {"seq": seq, **_fill_event(f)}


@settings(max_examples=300, deadline=None)
@given(_fills(), _count)
def test_fill_text_is_json_dumps(f: StoredFill, seq: int) -> None:
    assert fill_event_text(seq, f) == json.dumps(_published(seq, f))


def test_other_types_are_encoded() -> None:
    f = _sample()
    assert fill_event_text(True, f) == json.dumps(_published(True, f))  # (a bool is no seq)
    odd = StoredFill.of(f, True)
    object.__setattr__(odd, "fee", 1.5)
    assert fill_event_text(7, odd) == json.dumps(_published(7, odd))


async def test_a_made_event_is_read_as_its_dict_and_written_as_its_text() -> None:
    hub = EventHub()
    sub = hub.subscribe()
    f, made = _sample(), []

    def make() -> dict[str, object]:
        made.append(1)
        return _fill_event(f)

    hub.publish_made(make, functools.partial(fill_event_text, fill=f))
    hub.publish_made(make, functools.partial(fill_event_text, fill=f))
    texts, ended = sub.ready_texts(1)  # (a websocket's sender: the text, no dict made)
    assert (texts, ended, made) == ([json.dumps(_published(1, f))], False, [])
    assert await sub.get() == _published(2, f) and made == [1]  # (read as a dict: made)
    assert hub.published == 2
    nobody = EventHub()  # (no subscriber: counted, nothing made)
    nobody.publish_made(make, functools.partial(fill_event_text, fill=f))
    assert (nobody.published, made) == (1, [1])


def _sample() -> StoredFill:
    return StoredFill(b"\x01" * 32, "0x" + "aa" * 20, "0x" + "bb" * 20, 5, 7,
                      "0x" + "cc" * 20, 1, 12, "0x" + "dd" * 32, 3, True)  # fmt: skip


def test_own_fills_are_the_stored_fills_of_the_decoded() -> None:
    ex = Exchange.__new__(Exchange)  # (what ``fills_as`` reads of it: address, event topic)
    ex.address, ex._fill_topic = "0x" + "ee" * 20, b"\x09" * 32
    words = [(5).to_bytes(32, "big"), (7).to_bytes(32, "big"), bytes(12) + b"\xcc" * 20]
    data = b"".join([*words, (1).to_bytes(32, "big")])
    topics = [b"\x09" * 32, b"\x01" * 32, bytes(12) + b"\xaa" * 20, bytes(12) + b"\xbb" * 20]
    logs = [Log(ex.address, topics, data, 12, "0x" + "dd" * 32, i) for i in range(3)]
    logs.append(Log("0x" + "ff" * 20, topics, data, 12, "0x" + "dd" * 32, 3))  # (not ours)
    plain = ex.fills(logs)
    own = ex.fills_as(logs, own_fill)
    assert len(own) == 3 and own == [StoredFill.of(f, True) for f in plain]
    assert all(a is b for a, b in zip(own_fills(own), own, strict=True))  # (no copy made)
    assert list(own_fills(plain)) == own  # (a plain fill is copied: ours)
