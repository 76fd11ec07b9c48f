"""review48: the node-wide bound of orders restricted to one taker counts those that can trade
now (``unfunded`` ones rest parked, out of every walk). A maker's funds moved away took its
restricted orders out of the count, so the next maker's were taken, and so on: funds moved
back, every one of them rested in the ladders again, past ``Limits.max_restricted_orders``
without bound (walk46's cost, the bound meant to stop it). Now the restricted orders held
``unfunded`` have a bound of their own (``Limits.max_restricted_unfunded``), past which the
longest unfunded are closed, as ``max_unfunded`` closes any: at most the two bounds together
trade again. Real node, real Hardhat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sdex.ingest import Limits
from sdex.order import SignedOrder, random_salt
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for

E18 = 10**18
E6 = 10**6
MAKERS = (1, 2, 3)
HOLDER = 9
"""Where a maker's WETH waits while its orders are unfunded."""
NOBODY = "0x" + "33" * 20
"""The taker the restricted orders name: an address that never trades."""


def _limits(**kw: Any) -> Limits:
    """``Limits`` with these fields set after construction (the same test ran on the tree
    before the fix, where ``max_restricted_unfunded`` did not exist, to fail on behaviour)."""
    limits = Limits()
    for k, v in kw.items():
        setattr(limits, k, v)
    return limits


def _ask(c: Chain, maker: int, n: int) -> SignedOrder:
    # each at its own price, as walk46's attack rests them (a level each)
    return c.sign(
        c.order(maker, c.weth, E18 // 100, c.usdc, 30 * E6 + n, taker=NOBODY, salt=random_salt())
    )


async def _all_in(api: Api, orders: list[SignedOrder], statuses: tuple[str, ...]) -> bool:
    return all([await api.status(o) in statuses for o in orders])


async def test_restricted_orders_funded_again_stay_within_the_bounds(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    limits = _limits(max_restricted_per_maker=2, max_restricted_orders=2)
    limits.max_restricted_unfunded = 2  # (set on the tree before the fix too: ignored there)
    posted: dict[int, list[SignedOrder]] = {}
    kept: dict[int, int] = {}
    async with running_node(node_config(c, tmp_path / "n.db", limits=limits)) as (node, api):
        for i, maker in enumerate(MAKERS):
            posted[maker] = [_ask(c, maker, 10 * i + k) for k in range(2)]
            for order in posted[maker]:
                code, body = await api.post_order(order)
                assert code == 201, body
            # the maker's funds leave: its restricted orders park, out of the node's count
            kept[maker] = c.weth.balance_of(c.address(maker))
            c.weth.transfer(c.sender(maker), c.address(HOLDER), kept[maker])
            await wait_for(
                lambda o=posted[maker]: _all_in(api, o, ("unfunded", "removed")), timeout=30
            )
        for maker in MAKERS:  # every maker's funds come back
            c.weth.transfer(c.sender(HOLDER), c.address(maker), kept[maker])
        everyone = [o for m in MAKERS for o in posted[m]]
        await wait_for(lambda: _all_in(api, everyone, ("open", "removed")), timeout=30)
        statuses = [await api.status(o) for o in everyone]
        trading = statuses.count("open")
        # before: all six traded again, three times the node's bound
        assert trading <= limits.max_restricted_orders + 2, statuses
        assert node.registry.restricted_count(None) == trading
        # the first maker's, unfunded longest, were closed with the reason
        code, rec = await api.get(f"/v1/orders/{posted[MAKERS[0]][0].hash_hex}")
        assert code == 200 and rec["metaData"]["status"] == "removed", rec
        assert str(rec["metaData"]["reason"]).startswith("evicted: "), rec
