"""Walk46: orders restricted to another taker rest in the ladders every crossing order walks
and ``uncross`` reads (each looked at, none taken), so their number is bounded apart:
``Limits.max_restricted_per_maker`` and ``Limits.max_restricted_orders``, past which an order
with a ``taker`` is refused ``RESTRICTED_LIMIT`` (field ``taker``), from a wallet or a peer
alike, on a real node and chain. Public orders are not counted and still taken."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from sdex.ingest import Limits
from sdex.order import random_salt, sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

E18 = 10**18
E6 = 10**6
ALICE, BOB, CAROL, DAVE = 1, 2, 3, 4
NOBODY = "0x" + "33" * 20
"""The taker the restricted orders name: an address that never trades."""
PRICES = itertools.count(1)


def _ask(c: Chain, maker: int, taker: str | None = NOBODY) -> Any:
    kw: dict[str, Any] = {"salt": random_salt()}
    if taker is not None:
        kw["taker"] = taker
    # each at its own price, as walk46's attack rests them (a level each)
    return c.sign(c.order(maker, c.weth, E18 // 100, c.usdc, 30 * E6 + next(PRICES), **kw))


async def test_restricted_orders_past_the_bounds_are_refused(chain: Chain, tmp_path: Path) -> None:
    c = chain
    limits = Limits(max_restricted_per_maker=2, max_restricted_orders=3)
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        held = []
        for maker in (ALICE, ALICE, BOB):
            order = _ask(c, maker)
            assert (await api.post_taken(order))[0] == 201
            held.append(order)
        # the maker's bound: ALICE's third restricted order
        code, body = await api.post_order(_ask(c, ALICE))
        assert (code, body["rejection"]) == (400, "RESTRICTED_LIMIT"), body
        [error] = body["validationErrors"]
        assert (error["field"], error["code"]) == ("taker", 1004), error
        assert "the maker holds 2" in error["reason"] and "(2)" in error["reason"], error
        # the node's bound: CAROL has none, the node 3
        for submit in ("wallet", "peer"):
            order = _ask(c, CAROL)
            if submit == "wallet":
                code, body = await api.post_order(order)
                assert (code, body["rejection"]) == (400, "RESTRICTED_LIMIT"), body
                assert "this node holds 3" in body["validationErrors"][0]["reason"], body
            else:
                assert await node.submit_from_peer(order.to_json(), "peer") == "rejected"
        assert len(node.records) == 3
        # public orders are not counted: ALICE's and CAROL's taken
        for maker in (ALICE, CAROL, DAVE):
            assert (await api.post_taken(_ask(c, maker, taker=None)))[0] == 201
        assert len(node.records) == 6
        # a restricted order closed frees its slot: ALICE may rest one more
        first = held[0]
        sig = sign_hash(c.domain.cancel_digest(first.hash), c.keys[ALICE])
        code, _ = await api.post(
            f"/v1/orders/{first.hash_hex}/cancel", {"signature": "0x" + sig.hex()}
        )
        assert code == 200
        assert (await api.post_taken(_ask(c, ALICE)))[0] == 201
        code, body = await api.post_order(_ask(c, DAVE))
        assert (code, body["rejection"]) == (400, "RESTRICTED_LIMIT"), body
