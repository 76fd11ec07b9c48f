"""An accepted order's JSON text formatted directly (``sdex.ordertext``, cpu29, issue
11): the very text ``json.dumps`` makes of the node's own JSON of the order; anything not in
that form is encoded as before; a peer's copy in another form (keys in another order, a
checksummed address) is stored, held and pushed in the node's one form, once."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.order import Order, SignedOrder, to_checksum
from sdex.ordertext import KEYS, order_text
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import CAROL, E6, E18, ask

ADDRESS = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
UINT = st.integers(min_value=0, max_value=2**256 - 1)


@given(
    st.tuples(ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS),
    st.tuples(UINT, UINT, UINT, st.integers(min_value=0, max_value=2**64 - 1), UINT),
    st.binary(min_size=65, max_size=65),
)
def test_an_orders_json_is_formatted_as_json_dumps_writes_it(
    addresses: tuple[str, ...], amounts: tuple[int, ...], sig: bytes
) -> None:
    maker, taker, mt, tt, fee = addresses
    ma, ta, fa, expiry, salt = amounts
    signed = SignedOrder(Order(maker, taker, mt, tt, ma, ta, fee, fa, expiry, salt), sig, b"")
    obj = signed.to_json()
    assert tuple(obj) == KEYS
    assert order_text(obj) == json.dumps(obj)


def _order() -> dict[str, str]:
    o = Order("0x" + "ab" * 20, "0x" + "00" * 20, "0x" + "cd" * 20, "0x" + "ef" * 20,
              E18, 3000 * E6, "0x" + "00" * 20, 0, 2**40, 7)  # fmt: skip
    return SignedOrder(o, b"\x11" * 65, b"").to_json()


def _moved(obj: dict[str, str]) -> dict[str, str]:
    """The same items, ``signature`` first."""
    return {"signature": obj["signature"], **{k: v for k, v in obj.items() if k != "signature"}}


BAD = [  # (not the node's form: encoded by the encoder, the same text json.dumps makes)
    ("keys in another order", lambda o: _moved(o)),
    ("a key missing", lambda o: {k: v for k, v in o.items() if k != "salt"}),
    ("a key more", lambda o: {**o, "extra": "1"}),
    ("a quote", lambda o: {**o, "salt": 'a"b'}),
    ("a backslash", lambda o: {**o, "salt": "a\\b"}),
    ("a control character", lambda o: {**o, "salt": "a\nb"}),
    ("non-ASCII", lambda o: {**o, "salt": "\u00e9\u4e2d"}),
    ("a space", lambda o: {**o, "salt": "1 2"}),
    ("a checksummed address", lambda o: {**o, "maker": to_checksum(o["maker"])}),
    ("an empty value", lambda o: {**o, "salt": ""}),
    ("a value not a str", lambda o: {**o, "salt": 7}),
]


@pytest.mark.parametrize(("name", "edit"), BAD, ids=[b[0] for b in BAD])
def test_anything_else_is_encoded_as_before(name: str, edit: object) -> None:
    obj = edit(_order())  # type: ignore[operator]
    assert order_text(obj) == json.dumps(obj)


async def test_a_peers_copy_in_another_form_is_stored_in_the_nodes_one_form(
    chain: Chain, tmp_path: Path
) -> None:
    """A real node, SQLite, a websocket subscriber (so the text is made at acceptance, by
    ``order_text``): a peer's copies with keys reordered and a checksummed maker are
    accepted once each; the row, the held record's text and a repeat's ``known`` verdict
    are the node's form (``json.dumps`` of ``SignedOrder.to_json``); nothing lost, nothing
    twice."""
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        ws = await api.session.ws_connect(api.base + "/v1/ws")
        await wait_for(lambda: len(node.events) > 0)
        orders = [c.sign(ask(c, CAROL, E18, (7000 + i) * E6)) for i in range(4)]
        copies: list[object] = [
            _moved(orders[0].to_json()),
            {**orders[1].to_json(), "maker": to_checksum(orders[1].order.maker)},
            orders[2].to_json(),
            orders[3].to_json(),
            _moved(orders[0].to_json()),  # the same order again, in the same chunk
        ]
        got = await node.submit_many_from_peer(copies, "ab" * 32)
        assert got == ["accepted"] * 4 + ["known"]
        assert await node.submit_from_peer(orders[1].to_json(), "ab" * 32) == "known"
        for s in orders:
            assert node.records[s.hash].json_text == json.dumps(s.to_json())  # (made then)

        def stored() -> bool:
            return all(node.store.order(s.hash_hex) is not None for s in orders)

        await wait_for(stored)
        with contextlib.closing(sqlite3.connect(db)) as ro:
            rows = dict(ro.execute("SELECT hash, order_json FROM orders").fetchall())
        assert rows == {s.hash_hex: json.dumps(s.to_json()) for s in orders}
        await ws.close()


async def test_with_no_peer_and_no_subscriber_the_writer_encodes_the_row(
    chain: Chain, tmp_path: Path
) -> None:
    """Nothing but the row needs the text: the loop makes none (the store's writer encodes
    it, off the loop, as before); the row is the same text."""
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, _api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        s = c.sign(ask(c, CAROL, E18, 7100 * E6))
        assert await node.submit_many_from_peer([_moved(s.to_json())], "ab" * 32) == ["accepted"]
        assert node.records[s.hash].json_text is None
        await wait_for(lambda: node.store.order(s.hash_hex) is not None)
        with contextlib.closing(sqlite3.connect(db)) as ro:
            rows = ro.execute("SELECT order_json FROM orders WHERE hash=?", (s.hash_hex,))
            assert rows.fetchall() == [(json.dumps(s.to_json()),)]
