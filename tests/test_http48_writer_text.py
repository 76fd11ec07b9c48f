"""The store's writer makes an order row's text with ``sdex.ordertext.order_text`` (http48):
the row it commits holds ``json.dumps``' text of the order's JSON, as with the encoder it
used before, whether the dict is the node's own order JSON (formatted directly) or anything
else (encoded)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

from sdex.model import OrderStatus
from sdex.sqlwriter import serialised
from sdex.store import Store
from tests.test_book import A, B
from tests.test_book import ask as book_ask
from tests.test_listing_cursor import DOMAIN, IDENTITY

ODD = {"maker": "0xé", "n": 1, "nested": {"a": [1, 2]}, "q": 'say "hi"\n'}
"""Not an order's JSON: not the pinned keys, a non-ASCII value, a number, a quote."""


def test_serialised_writes_json_dumps_text_for_an_order_and_for_anything_else() -> None:
    own = book_ask(A, 10, 100).to_json()
    for obj in (own, ODD, {}):
        row = ("h", 1, "m", "a", "b", obj, "open", "api", "gtc", 0.0, 0.0, "t")
        out = serialised(row)
        assert out[5] == json.dumps(obj)
        assert out[:5] == row[:5] and out[6:] == row[6:]
    text_row = ("h", 1, "m", "a", "b", "{}", "open", "api", "gtc", 0.0, 0.0, "t")
    assert serialised(text_row) is text_row  # (text already: left as it is)


def test_rows_queued_with_their_dict_are_committed_as_json_dumps_text(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    orders = [book_ask(A if i % 2 else B, 10 + i, 100) for i in range(40)]

    async def run() -> None:
        store = Store(path, IDENTITY, DOMAIN)
        try:
            waits = []
            for seq, so in enumerate(orders, 1):
                fut = store.add_order_async(so, seq, OrderStatus.OPEN, "api", "gtc", so.to_json())
                assert fut is not None
                waits.append(fut)
            await asyncio.wait_for(asyncio.gather(*waits), 30)
        finally:
            store.close()

    asyncio.run(run())
    db = sqlite3.connect(path)
    try:
        got = dict(db.execute("SELECT hash, order_json FROM orders").fetchall())
    finally:
        db.close()
    assert got == {so.hash_hex: json.dumps(so.to_json()) for so in orders}
