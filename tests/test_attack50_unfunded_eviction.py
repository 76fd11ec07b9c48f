"""attack50: past ``Limits.max_unfunded`` the node closed the orders unfunded longest,
whoever held them. An attacker's makers, each posting its orders with the minimums a node
asks and then passing the same funds on to the next key, fill the bound (50,000: 50 keys
of 1,000 orders, one bankroll of 1,000 minimums, a transfer each), and each further one
closed an honest order waiting for its maker's funds (``removed``, for good), on every node
the gossip reached. Now the maker holding the most unfunded orders loses one first
(``sdex.node.unfundedq``): an honest maker's few go only once nobody holds more."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.ingest import Limits
from sdex.node.unfundedq import UnfundedMakers
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for, with_minimums
from tests.test_node import ALICE, BOB, E6, E18, ask

MIN_WETH = 10**15
ATTACKERS = (10, 11)
PER_ATTACKER = 3


def _hold_exactly(c: Chain, who: int, amount: int) -> None:
    """``who`` keeps ``amount`` of its WETH (the rest to account 0)."""
    balance = c.weth.balance_of(c.address(who))
    if balance > amount:
        c.weth.transfer(c.sender(who), c.address(0), balance - amount)


async def _status(api: Api, s: SignedOrder) -> str:
    return await api.status(s)


@pytest.mark.parametrize("restricted", [False, True], ids=["public", "restricted"])
async def test_an_attackers_unfunded_orders_do_not_evict_an_honest_one(
    chain: Chain, tmp_path: Path, restricted: bool
) -> None:
    """(Restricted: at ``max_restricted_unfunded``, the same rule; review48's bound.)"""
    c = chain
    limits = Limits(max_unfunded=4) if not restricted else Limits(max_restricted_unfunded=4)
    taker = {"taker": c.address(BOB)} if restricted else {}
    cfg = with_minimums(node_config(c, tmp_path / "n.db", limits=limits), c, MIN_WETH, 10**3)
    async with running_node(cfg) as (node, api):
        # an honest ask, then its maker's WETH moves away for a while: unfunded
        honest = c.sign(ask(c, ALICE, E18, 3000 * E6, **taker))
        code, body = await api.post_order(honest)
        assert code == 201 and body["metaData"]["status"] == "open", body
        kept = c.weth.balance_of(c.address(ALICE))
        _hold_exactly(c, ALICE, 0)
        await wait_for(lambda: _is(api, honest, "unfunded"), timeout=20)
        # the attack: makers holding the minimums for their orders, then passing them on
        posted: list[SignedOrder] = []
        for who in ATTACKERS:
            _hold_exactly(c, who, PER_ATTACKER * MIN_WETH)
            for i in range(PER_ATTACKER):
                s = c.sign(ask(c, who, E18, (4000 + i) * E6, **taker))
                code, body = await api.post_order(s)
                assert code == 201, body
                posted.append(s)
            _hold_exactly(c, who, 0)
        c.rpc.call("hardhat_mine", "0x1")  # (the node brings its counts to the book per block)

        async def evicted() -> bool:
            statuses = [await _status(api, s) for s in (honest, *posted)]
            return statuses.count("removed") >= 3

        await wait_for(evicted, timeout=30)
        assert node.registry.evicted_unfunded == 3
        assert await _status(api, honest) == "unfunded"  # (before: removed, for good)
        # its maker's funds come back: it trades again
        c.weth.transfer(c.sender(0), c.address(ALICE), kept)
        await wait_for(lambda: _is(api, honest, "open"), timeout=20)


async def _is(api: Api, s: SignedOrder, status: str) -> bool:
    return await _status(api, s) == status


def test_the_maker_holding_the_most_goes_first() -> None:
    q = UnfundedMakers()
    q.add("honest", b"h1")
    for i in range(3):
        q.add("a", b"a%d" % i)
        q.add("b", b"b%d" % i)
    first = q.first(3)  # (a and b hold 3 each: two of one, one of the other, oldest first)
    assert sorted(first) in ([b"a0", b"a1", b"b0"], [b"a0", b"b0", b"b1"])
    # (the honest maker's one: once each holds one; then by age, review52: it is the oldest)
    assert q.first(7)[4:] == [b"h1", b"a2", b"b2"]
    for h in first:
        q.discard(h[:1].decode(), h)
    q.discard("honest", b"h1")
    assert sorted(q.first(10)) == sorted({b"a0", b"a1", b"a2", b"b0", b"b1", b"b2"} - set(first))
    assert len(q.first(1)) == 1 and q.first(0) == []
