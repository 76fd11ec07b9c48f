"""The public API's intake rules a user trial found loose (user11), on a real node and chain:

- every uint of an order is a decimal string: a JSON number is refused (field code 1001),
  from a wallet and from a peer alike;
- ``POST /v1/orders`` and ``POST /v1/orders/{hash}/cancel`` read a body sent without a
  ``Content-Type`` as JSON, and refuse any other type with 415 and the SRA body; the
  loopback-only admin route still requires the header;
- an order whose ``taker`` can never be its counterparty (its own maker, the Exchange) is
  refused with field ``taker``; one restricted to another address rests and settles
  through ``matchOrders`` when that address's order crosses it, whoever operates the node.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sdex.order import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

E18 = 10**18
E6 = 10**6
ALICE, BOB, CAROL = 1, 2, 3
JSON_FREE = {"skip_auto_headers": ["Content-Type"]}
"""aiohttp options that send a body without any ``Content-Type``."""


def _ask(c: Chain, maker: int = ALICE, **kw: Any) -> dict[str, Any]:
    return dict(c.sign(c.order(maker, c.weth, E18, c.usdc, 3000 * E6, **kw)).to_json())


@pytest.mark.parametrize("field", ["makerAmount", "takerAmount", "feeAmount", "expiry", "salt"])
async def test_a_uint_sent_as_a_json_number_is_refused(
    chain: Chain, tmp_path: Path, field: str
) -> None:
    """The same order with one uint as a JSON number: 400, ``field`` code 1001 (incorrect
    format), nothing stored; from a peer, rejected too; as strings it is taken."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        body = _ask(c)
        as_number = {**body, field: int(body[field])}
        code, answer = await api.post("/v1/orders", as_number)
        assert code == 400, answer
        assert answer["code"] == 100 and answer["rejection"] == "MALFORMED"
        [error] = answer["validationErrors"]
        assert (error["field"], error["code"]) == (field, 1001)
        assert "decimal string" in error["reason"] and f'"{body[field]}"' in error["reason"]
        assert await node.submit_from_peer(as_number, "peer") == "forged"
        assert len(node.records) == 0 and node.events.published == 0
        code, answer = await api.post("/v1/orders", body)
        assert code == 201, answer


async def test_post_routes_read_a_body_without_content_type(chain: Chain, tmp_path: Path) -> None:
    """An order and its cancel posted with no ``Content-Type``: taken. A ``text/plain`` or
    form body: 415, the SRA body naming the type sent. (The cancel answered 415 to a bare
    body, and so did the order.)"""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", admin=True)) as (node, api):
        order = _ask(c)
        data = json.dumps(order).encode()
        for ctype in ("text/plain", "application/x-www-form-urlencoded"):
            async with api.session.post(
                api.base + "/v1/orders", data=data, headers={"Content-Type": ctype}
            ) as r:
                answer = await r.json(content_type=None)
            assert r.status == 415 and answer["code"] == 101, answer
            assert ctype in answer["reason"] and answer["validationErrors"] == []
        async with api.session.post(api.base + "/v1/orders", data=data, **JSON_FREE) as r:
            assert "Content-Type" not in r.request_info.headers
            answer = await r.json(content_type=None)
            assert r.status == 201, answer
        h = answer["orderHash"]
        sig = sign_hash(c.domain.cancel_digest(bytes.fromhex(h[2:])), c.keys[ALICE])
        cancel = json.dumps({"signature": "0x" + sig.hex()}).encode()
        async with api.session.post(
            api.base + f"/v1/orders/{h}/cancel", data=cancel, headers={"Content-Type": "text/plain"}
        ) as r:
            answer = await r.json(content_type=None)
            assert r.status == 415 and "text/plain" in answer["reason"], answer
        async with api.session.post(
            api.base + f"/v1/orders/{h}/cancel", data=cancel, **JSON_FREE
        ) as r:
            answer = await r.json(content_type=None)
            assert r.status == 200, answer
        code, rec = await api.get(f"/v1/orders/{h}")
        assert code == 200 and rec["metaData"]["status"] == "cancelled"
        # the loopback-only admin route keeps requiring the header (no CORS-free web POST)
        async with api.session.post(
            api.base + "/admin/links", data=b'{"block": []}', **JSON_FREE
        ) as r:
            answer = await r.json(content_type=None)
            assert r.status == 415 and "none was sent" in answer["reason"], answer
        assert len(node.book) == 0


async def test_a_taker_that_can_never_trade_is_refused(chain: Chain, tmp_path: Path) -> None:
    """``taker`` = the maker, or the Exchange: 400 ``TAKER_NEVER_TRADES``, field ``taker``
    code 1003, from a wallet or a peer, nothing stored (they rested for ever)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        for taker, says in ((c.address(ALICE), "own maker"), (c.exchange.address, "Exchange")):
            body = _ask(c, taker=taker.lower())
            code, answer = await api.post("/v1/orders", body)
            assert code == 400 and answer["rejection"] == "TAKER_NEVER_TRADES", answer
            [error] = answer["validationErrors"]
            assert (error["field"], error["code"]) == ("taker", 1003) and says in error["reason"]
            assert await node.submit_from_peer(body, "peer") == "rejected"
        assert len(node.records) == 0 and len(node.book) == 0


async def test_a_stored_never_trading_order_is_closed_at_start(
    chain: Chain, tmp_path: Path
) -> None:
    """Review13: such orders an older version stored rested after every restart (the rule
    was checked only at intake). Now the start closes them, removed, with the reason."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    own = c.sign(c.order(ALICE, c.weth, E18, c.usdc, 3000 * E6, taker=c.address(ALICE).lower()))
    fine = c.sign(c.order(BOB, c.weth, E18, c.usdc, 3100 * E6))
    async with running_node(cfg) as (node, api):
        assert (await api.post_taken(fine))[0] == 201
        node.store.add_order(own, node.store.next_seq(), "open", "wallet")  # as before user12
    async with running_node(cfg) as (node, api):
        code, rec = await api.get(f"/v1/orders/{own.hash_hex}")
        assert code == 200 and rec["metaData"]["status"] == "removed", rec
        assert "own maker" in rec["metaData"]["reason"], rec
        assert await api.status(fine) == "open" and len(node.book) == 1


async def test_an_order_for_one_taker_settles_with_that_takers_order(
    chain: Chain, tmp_path: Path
) -> None:
    """Alice's ask restricted to Bob rests; Carol's crossing bid does not take it (the
    contract's ``TakerNotAllowed``); Bob's does, and the match settles on chain by this
    node, whose operator is neither: in ``matchOrders`` the taker is the other order's
    maker, so such an order is not refused at intake."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        ask = _ask(c, taker=c.address(BOB).lower())
        code, answer = await api.post("/v1/orders", ask)
        assert code == 201 and answer["status"] == "open", answer
        ask_hash = answer["orderHash"]

        def bid(maker: int) -> dict[str, Any]:
            o = c.order(maker, c.usdc, 3000 * E6, c.weth, E18)
            return dict(c.sign(o).to_json())

        code, answer = await api.post("/v1/orders", bid(CAROL))
        assert code == 201 and answer["matches"] == [], answer
        code, answer = await api.post("/v1/orders", bid(BOB))
        assert code == 201 and len(answer["matches"]) == 1, answer

        async def filled() -> bool:
            _, rec = await api.get(f"/v1/orders/{ask_hash}")
            return bool(rec["metaData"]["status"] == "filled")

        await wait_for(filled)
        assert node.settler.settled == 1
        assert answer["matches"][0]["restingOrderHash"] == ask_hash
        code, fills = await api.get("/v1/fills", orderHash=ask_hash)
        assert code == 200 and [f["taker"] for f in fills["records"]] == [c.address(BOB).lower()]
