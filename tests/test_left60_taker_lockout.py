"""left60: ``Limits.max_restricted_per_taker`` counted the orders restricted to a taker that
were held ``unfunded`` (parked: no walk meets them). An attacker's keys each posted an order
for taker T with the minimums, then passed the same funds on to the next key: T's bound
filled at the cost of one bankroll and a transfer per key, and every honest order for T
was refused ``RESTRICTED_LIMIT`` while the parked ones lived. Now only the orders for T that
can trade count (as ``max_restricted_orders`` counts them); the parked ones have the bound
``max_restricted_unfunded``. Real node, real Hardhat."""

from __future__ import annotations

from pathlib import Path

from sdex.ingest import Limits
from sdex.order import SignedOrder, random_salt
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

E18 = 10**18
E6 = 10**6
ATTACKERS = (1, 2)
HONEST, TAKER, HOLDER = 3, 0, 9


def _ask(c: Chain, maker: int, n: int, taker: str) -> SignedOrder:
    return c.sign(
        c.order(maker, c.weth, E18 // 100, c.usdc, 30 * E6 + n, taker=taker, salt=random_salt())
    )


async def _is(api: Api, s: SignedOrder, status: str) -> bool:
    return await api.status(s) == status


async def test_parked_orders_do_not_lock_their_taker_out(chain: Chain, tmp_path: Path) -> None:
    c = chain
    taker = c.address(TAKER).lower()
    limits = Limits(max_restricted_per_taker=len(ATTACKERS))
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        parked: list[SignedOrder] = []
        kept: list[int] = []
        for n, who in enumerate(ATTACKERS):  # each key's order for T, then its funds move on
            parked.append(s := _ask(c, who, n, taker))
            code, body = await api.post_order(s)
            assert code == 201, body
            kept.append(c.weth.balance_of(c.address(who)))
            c.weth.transfer(c.sender(who), c.address(HOLDER), kept[-1])
            await wait_for(lambda s=s: _is(api, s, "unfunded"), timeout=30)
        honest = _ask(c, HONEST, 9, taker)
        code, body = await api.post_order(honest)
        # before: 400 RESTRICTED_LIMIT, "this node for that taker holds 2"
        assert code == 201, body
        assert body["metaData"]["status"] == "open", body
        # and T takes it
        bid = c.sign(c.order(TAKER, c.usdc, 40 * E6, c.weth, E18 // 100, salt=random_salt()))
        assert (await api.post_order(bid))[0] == 201
        await wait_for(lambda: _is(api, honest, "filled"), timeout=60)
        # a funded order for T past the bound is still refused
        for n, who in enumerate((4, 5)):
            assert (await api.post_order(_ask(c, who, 20 + n, taker)))[0] == 201
        code, body = await api.post_order(_ask(c, 6, 30, taker))
        assert (code, body["rejection"]) == (400, "RESTRICTED_LIMIT"), body
        assert node.registry.restricted_to(taker) == 2
        # the parked ones funded again trade past the bound (as past max_restricted_orders,
        # review48: capital for each), and the count says so
        for who, amount in zip(ATTACKERS, kept, strict=True):
            c.weth.transfer(c.sender(HOLDER), c.address(who), amount)
        for s in parked:
            await wait_for(lambda s=s: _is(api, s, "open"), timeout=30)
        assert node.registry.restricted_to(taker) == 4
        code, body = await api.post_order(_ask(c, 7, 40, taker))
        assert (code, body["rejection"]) == (400, "RESTRICTED_LIMIT"), body
