"""Book49: orders restricted to one taker rest apart from the public ladders (per-taker
private ladders), so the node-wide bound on them (``Limits.max_restricted_orders``) went from
500 to 20,000. At 500, 20 keys' dust orders (25 each) locked every honest restricted order
out of the node; here an attacker's 544 funded restricted dust orders (17 keys) leave room
for an honest maker's order for its counterparty, which it then fills, on a real node and
chain; and no public order's walk meets the attacker's orders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.ingest import Limits
from sdex.order import random_salt
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for

E18 = 10**18
E6 = 10**6
NOBODY = "0x" + "33" * 20
"""The taker the attacker's orders name: an address that never trades."""
ATTACKERS = range(1, 18)
PER_KEY = 32
HONEST, COUNTERPARTY = 18, 0


def _ask(c: Chain, maker: int, n: int, taker: str, amount: int = 1_000) -> Any:
    """``amount`` wei of WETH (the attacker's: dust) for USDC, each at its own price."""
    return c.sign(c.order(maker, c.weth, amount, c.usdc, 30 + n, taker=taker, salt=random_salt()))


async def test_attackers_restricted_dust_no_longer_locks_out_an_honest_order(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    limits = Limits(max_restricted_per_maker=PER_KEY)  # (the node-wide bound: the default)
    assert len(ATTACKERS) * PER_KEY > 500  # past the node-wide bound before book49
    cfg = node_config(c, tmp_path / "n.db", limits=limits)
    async with running_node(cfg) as (node, api):
        n = 0
        for maker in ATTACKERS:
            for _ in range(PER_KEY):
                n += 1
                code, body = await api.post_taken(_ask(c, maker, n, NOBODY))
                assert code == 201, (n, body)
        assert node.registry.restricted_count(None) == len(ATTACKERS) * PER_KEY
        pair = node.book.pair(c.weth.address.lower(), c.usdc.address.lower())
        assert pair.asks.ranked == []  # none in the public ladder: no public walk meets them
        # the honest maker's order for its counterparty, 0.01 WETH for 30 USDC: accepted
        taker = c.address(COUNTERPARTY).lower()
        honest = c.sign(
            c.order(HONEST, c.weth, E18 // 100, c.usdc, 30 * E6, taker=taker, salt=random_salt())
        )
        code, body = await api.post_taken(honest)
        assert code == 201, body
        # its counterparty sees it (and none of the attacker's), and takes it
        code, book = await api.get(
            "/v1/orderbook",
            baseToken=c.weth.address,
            quoteToken=c.usdc.address,
            takerAddress=taker,
        )
        assert code == 200, book
        assert [r["order"]["maker"] for r in book["asks"]["records"]] == [
            c.address(HONEST).lower()
        ], book["asks"]
        bid = c.sign(c.order(COUNTERPARTY, c.usdc, 30 * E6, c.weth, E18 // 100, salt=random_salt()))
        code, body = await api.post_taken(bid)
        assert code == 201, body

        async def honest_filled() -> bool:
            return await api.status(honest) == "filled"

        await wait_for(honest_filled, timeout=60)
        # the attacker's orders all still open: the bid's walk met none of them
        assert node.registry.restricted_count(None) == len(ATTACKERS) * PER_KEY


async def test_orders_restricted_to_one_taker_are_bounded_per_taker(
    chain: Chain, tmp_path: Path
) -> None:
    """``Limits.max_restricted_per_taker``: past it an order for that taker is refused
    ``RESTRICTED_LIMIT`` whoever makes it; an order for another taker is still taken."""
    c = chain
    limits = Limits(max_restricted_per_taker=2)
    other = "0x" + "55" * 20
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        for n, maker in enumerate((1, 2)):
            assert (await api.post_taken(_ask(c, maker, n, NOBODY)))[0] == 201
        code, body = await api.post_order(_ask(c, 3, 9, NOBODY))
        assert (code, body["rejection"]) == (400, "RESTRICTED_LIMIT"), body
        assert "this node for that taker holds 2" in body["validationErrors"][0]["reason"], body
        assert (await api.post_taken(_ask(c, 3, 10, other)))[0] == 201
        assert node.registry.restricted_to(NOBODY) == 2
        assert node.registry.restricted_to(other) == 1
