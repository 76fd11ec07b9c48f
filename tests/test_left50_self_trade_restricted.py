"""Left50 (book49's leftover): intake's self-trade check (``_own_crossing``: a wallet's order
that would trade with the same maker's resting one is refused ``SELF_TRADE``) counted
orders the two could never trade: the maker's own order restricted to another taker (it
rests in that taker's private ladder: only the taker's orders may take it), and any of the
maker's orders when the incoming order is itself restricted to another taker (only that
taker's orders are its counterparties). An honest order was refused as a self-trade the
engine would never have made. It now asks what the engine's walk asks (``MatchingEngine``:
a restricted order trades only with its taker's orders)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid

NOBODY = "0x" + "33" * 20
"""The taker the restricted orders name: an address that never trades."""


async def test_an_order_is_not_refused_for_its_makers_orders_it_could_never_trade(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_node, api):
        # Alice's ask for NOBODY only, at 2000; Carol's public ask at 2100
        private = c.sign(ask(c, ALICE, E18 // 10, 200 * E6, taker=NOBODY))
        public = c.sign(ask(c, CAROL, E18 // 10, 210 * E6))
        for o in (private, public):
            assert (await api.post_taken(o))[0] == 201
        # Alice bids 2200: it crosses her own ask, which only NOBODY may take, and Carol's
        code, body = await api.post_taken(c.sign(bid(c, ALICE, E18 // 10, 220 * E6)))
        assert code == 201, body  # before: 400 SELF_TRADE
        assert [m["restingOrderHash"] for m in body["matches"]] == [public.hash_hex], body
        # Alice's public ask at 2300, and her bid for NOBODY only across it
        mine = c.sign(ask(c, ALICE, E18 // 10, 230 * E6))
        assert (await api.post_taken(mine))[0] == 201
        code, body = await api.post_taken(c.sign(bid(c, ALICE, E18 // 10, 240 * E6, taker=NOBODY)))
        assert code == 201 and body["matches"] == [], body  # before: 400 SELF_TRADE
        # a real self-trade is still refused
        code, body = await api.post_order(c.sign(bid(c, ALICE, E18 // 10, 240 * E6)))
        assert (code, body["rejection"] if code == 400 else None) == (400, "SELF_TRADE"), body
        # and Bob's bid takes Alice's public ask as before
        code, body = await api.post_taken(c.sign(bid(c, BOB, E18 // 10, 230 * E6)))
        assert code == 201 and len(body["matches"]) == 1, body
