"""review52: past ``Limits.max_unfunded``, among makers holding as many unfunded orders the
one whose count moved last lost one first (attack50's ``UnfundedMakers``). Keys of one
unfunded order each, filling the bound once (a transfer a key), then closed every honest
order that became unfunded after them, at once and for as long as theirs lived: each was
the newest of the makers holding one. Now, among makers holding as many, the one unfunded
longest loses one first (the rule before attack50, within a count): each further honest
order closes one of the attacker's, so an attacker pays a transfer per honest order
closed, not one per key for good."""

from __future__ import annotations

from pathlib import Path

from sdex.ingest import Limits
from sdex.node.unfundedq import UnfundedMakers
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for, with_minimums
from tests.test_attack50_unfunded_eviction import MIN_WETH, _hold_exactly, _is
from tests.test_node import ALICE, E6, E18, ask

ATTACKERS = (10, 11, 12)


async def test_keys_of_one_unfunded_order_do_not_close_a_later_honest_one(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = with_minimums(
        node_config(c, tmp_path / "n.db", limits=Limits(max_unfunded=len(ATTACKERS))),
        c,
        MIN_WETH,
        10**3,
    )
    async with running_node(cfg) as (node, api):
        # the attack: keys of one order each, their minimums passed on: the bound full
        posted: list[SignedOrder] = []
        for i, who in enumerate(ATTACKERS):
            _hold_exactly(c, who, MIN_WETH)
            s = c.sign(ask(c, who, E18, (4000 + i) * E6))
            code, body = await api.post_order(s)
            assert code == 201, body
            posted.append(s)
            _hold_exactly(c, who, 0)
            # each seen unfunded before the next key's: the first key's the oldest (a node
            # that sees several in one poll ranks them as its set gives them)
            await wait_for(lambda s=s: _is(api, s, "unfunded"), timeout=20)
        c.rpc.call("hardhat_mine", "0x1")
        assert node.registry.evicted_unfunded == 0
        # then an honest ask whose maker's WETH moves away for a while
        honest = c.sign(ask(c, ALICE, E18, 3000 * E6))
        code, body = await api.post_order(honest)
        assert code == 201 and body["metaData"]["status"] == "open", body
        kept = c.weth.balance_of(c.address(ALICE))
        _hold_exactly(c, ALICE, 0)

        async def one_evicted() -> bool:
            statuses = [await api.status(s) for s in (honest, *posted)]
            return statuses.count("removed") >= 1

        await wait_for(one_evicted, timeout=30)
        assert node.registry.evicted_unfunded == 1
        assert await api.status(posted[0]) == "removed"  # (the attacker's oldest)
        assert await api.status(honest) == "unfunded"  # (before: removed, for good)
        c.weth.transfer(c.sender(0), c.address(ALICE), kept)
        await wait_for(lambda: _is(api, honest, "open"), timeout=20)


def test_among_equal_counts_the_longest_unfunded_goes_first() -> None:
    q = UnfundedMakers()
    for m in ("a", "b", "c"):
        q.add(m, m.encode())
    q.add("honest", b"h")
    assert q.first(1) == [b"a"]  # (before: [b"h"], the newest)
    assert q.first(4) == [b"a", b"b", b"c", b"h"]
    q.add("b", b"b2")  # (b holds 2: its oldest first; then the makers of one by age)
    assert q.first(5) == [b"b", b"a", b"c", b"h", b"b2"]
    q.discard("a", b"a")
    q.discard("b", b"b")  # (b's oldest now b2, newer than c's and h's)
    assert q.first(3) == [b"c", b"h", b"b2"]


def test_the_heap_stays_bounded_and_true_under_churn() -> None:
    q = UnfundedMakers()
    for i in range(10_000):  # (one maker's count up and down: every move pushes an entry)
        q.add("m", b"%d" % (i % 7))
        q.discard("m", b"%d" % ((i + 3) % 7))
        assert len(q._heap) <= 4 * len(q.of) + 64
    q.add("n", b"n0")
    held = set(q.of["m"]) | {b"n0"}
    assert sorted(q.first(len(held) + 5)) == sorted(held)  # (each once, none stale)
