"""left60: past ``Limits.max_unfunded`` the maker holding the most ``unfunded`` orders lost
one first (attack50). An attacker's keys of one order each (each posted with the minimums,
the same funds then passed on to the next key: a transfer a key) never hold the most, so
every honest maker holding two or more went first: a market maker whose levels run past
its balance (its best funded, the rest ``unfunded`` until a fill or a deposit) lost them
for good. Now a maker with an order that can trade (funds it holds now: capital, which
keys passing one bankroll on do not have) loses its unfunded ones only once no maker
without one holds any (``sdex.node.unfundedq``). Real node, real Hardhat."""

from __future__ import annotations

from pathlib import Path

from sdex.ingest import Limits
from sdex.node.unfundedq import UnfundedMakers
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for, with_minimums
from tests.test_attack50_unfunded_eviction import MIN_WETH, _hold_exactly
from tests.test_node import ALICE, E6, E18, ask

ATTACKERS = (10, 11, 12)


async def _statuses(api: Api, orders: list[SignedOrder]) -> list[str]:
    return [await api.status(s) for s in orders]


async def test_one_order_keys_do_not_evict_a_market_makers_levels(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    limits = Limits(max_unfunded=len(ATTACKERS) + 1)
    cfg = with_minimums(node_config(c, tmp_path / "n.db", limits=limits), c, MIN_WETH, 10**3)
    async with running_node(cfg) as (node, api):
        # the market maker: three levels of 1 WETH, one WETH held: the best trades, two wait
        _hold_exactly(c, ALICE, E18)
        levels = [c.sign(ask(c, ALICE, E18, (3000 + i) * E6)) for i in range(3)]
        for s in levels:
            code, body = await api.post_order(s)
            assert code == 201, body
        c.rpc.call("hardhat_mine", "0x1")
        await wait_for(lambda: _is_all(api, levels, ["open", "unfunded", "unfunded"]), timeout=20)
        # the attack: keys of one order each, the minimums passed on from key to key
        posted: list[SignedOrder] = []
        for who in ATTACKERS:
            _hold_exactly(c, who, MIN_WETH)
            s = c.sign(ask(c, who, E18, 4000 * E6))
            code, body = await api.post_order(s)
            assert code == 201, body
            posted.append(s)
            _hold_exactly(c, who, 0)
            if who != ATTACKERS[-1]:  # (the bound not reached yet: its order waits, unfunded)
                # each seen unfunded before the next key's: the first key's the longest (a
                # node that sees several in one poll ranks them as its set gives them)
                await wait_for(lambda: _is_all(api, [s], ["unfunded"]), timeout=20)  # noqa: B023
        c.rpc.call("hardhat_mine", "0x1")

        async def evicted() -> bool:
            return (await _statuses(api, [*levels, *posted])).count("removed") >= 1

        await wait_for(evicted, timeout=30)
        assert node.registry.evicted_unfunded == 1
        # before: the market maker's second level, removed for good
        assert await _statuses(api, levels) == ["open", "unfunded", "unfunded"]
        assert (await _statuses(api, posted))[0] == "removed"  # (the key unfunded longest)


async def _is_all(api: Api, orders: list[SignedOrder], want: list[str]) -> bool:
    return await _statuses(api, orders) == want


def test_makers_that_can_trade_lose_last() -> None:
    trading = {"mm"}
    q = UnfundedMakers(trading.__contains__)
    q.add("mm", b"m1")
    q.add("mm", b"m2")
    for i in range(3):
        q.add(f"k{i}", f"k{i}".encode())
    q.add("lone", b"l1")
    q.add("lone", b"l2")
    # the makers with nothing that trades first (the most first, then the oldest), then mm
    assert q.first(6) == [b"l1", b"k0", b"k1", b"k2", b"l2", b"m1"]
    trading.clear()  # (mm's funded order closed: it holds the most)
    assert q.first(1) == [b"m1"]
