"""attack62: past ``Limits.max_unfunded``, ``UnfundedMakers.first`` set every maker that
trades (an order that can trade now) aside and back on each call: with M such makers
holding more ``unfunded`` orders than the others, each call past the bound was O(M log M)
(M calls of ``trades``; bench/attack62_unfunded_first.py: 0.29-0.54 s a call at 30,000).
Now a maker found trading waits in a heap of its own until its orders or ``trades``'
answer change (``touch``, from the registry's open counts): each call is O(log M) for what
changed since. The guard of that: a maker set aside that stops trading loses first again
(real node, real Hardhat)."""

from __future__ import annotations

import random
from pathlib import Path

from sdex.ingest import Limits
from sdex.node.unfundedq import UnfundedMakers
from sdex.order import SignedOrder
from sdex.signature import sign_hash
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for, with_minimums
from tests.test_attack50_unfunded_eviction import MIN_WETH, _hold_exactly
from tests.test_left60_unfunded_keys import _statuses
from tests.test_node import ALICE, E6, E18, ask, bid

TRADING = 200
STEPS = 50


def test_makers_that_trade_are_set_aside_once_not_each_call() -> None:
    trading = {f"t{i}" for i in range(TRADING)}
    asked: list[str] = []

    def trades(maker: str) -> bool:
        asked.append(maker)
        return maker in trading

    q = UnfundedMakers(trades)
    for i in range(TRADING):  # (two each: they hold the most, and lose last)
        q.add(f"t{i}", b"t%d-0" % i)
        q.add(f"t{i}", b"t%d-1" % i)
    for i in range(STEPS):  # a new maker's order past the bound; it is the one closed
        q.add(f"n{i}", b"n%d" % i)
        assert q.first(1) == [b"n%d" % i]
        q.discard(f"n{i}", b"n%d" % i)
    # before: TRADING calls each step and one for the new maker's (10,050; now 250)
    assert len(asked) <= TRADING + 2 * STEPS, len(asked)  # (each judged once)
    trading.discard("t7")  # (its funded order closed: it holds the most, the oldest of those)
    q.touch("t7")
    assert q.first(1) == [b"t7-0"]  # (before it, in a heap of its own)


def _ask(c: Chain, who: int, n: int) -> SignedOrder:
    return c.sign(ask(c, who, E18, (4000 + n) * E6))


async def test_a_maker_set_aside_that_stops_trading_loses_first_again(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    limits = Limits(max_unfunded=3)
    cfg = with_minimums(node_config(c, tmp_path / "n.db", limits=limits), c, MIN_WETH, 10**3)
    async with running_node(cfg) as (node, api):
        # Alice: a funded bid (she trades) and three asks whose WETH then moves away
        alice_bid = c.sign(bid(c, ALICE, E18 // 100, 10 * E6))
        code, body = await api.post_order(alice_bid)
        assert code == 201 and body["metaData"]["status"] == "open", body
        _hold_exactly(c, ALICE, 3 * MIN_WETH)
        levels = [_ask(c, ALICE, i) for i in range(3)]
        for s in levels:
            assert (await api.post_order(s))[0] == 201
        _hold_exactly(c, ALICE, 0)
        c.rpc.call("hardhat_mine", "0x1")

        async def unfunded_all() -> bool:
            return await _statuses(api, levels) == ["unfunded"] * 3

        await wait_for(unfunded_all, timeout=20)
        keys: list[SignedOrder] = []

        async def key_past_the_bound(who: int) -> None:
            _hold_exactly(c, who, MIN_WETH)
            keys.append(s := _ask(c, who, 10 + who))
            code, body = await api.post_order(s)
            assert code == 201, body
            _hold_exactly(c, who, 0)
            c.rpc.call("hardhat_mine", "0x1")
            n = node.registry.evicted_unfunded + 1
            await wait_for(lambda: node.registry.evicted_unfunded >= n, timeout=30)

        await key_past_the_bound(10)  # (Alice trades: the key's order goes; she is set aside)
        assert await _statuses(api, [*levels, *keys]) == ["unfunded"] * 3 + ["removed"]
        sig = sign_hash(c.domain.cancel_digest(alice_bid.hash), c.keys[ALICE])
        path = f"/v1/orders/{alice_bid.hash_hex}/cancel"
        code, body = await api.post(path, {"signature": "0x" + sig.hex()})
        assert (code, body["status"]) == (200, "cancelled"), body
        await key_past_the_bound(11)  # (Alice no longer trades and holds the most: hers go)
        # without ``touch``: the key's, Alice's three kept while she trades no more
        statuses = await _statuses(api, [*levels, *keys])
        assert sorted(statuses[:3]) == ["removed", "unfunded", "unfunded"], statuses
        assert statuses[3:] == ["removed", "unfunded"], statuses  # (one block: any of hers)


def _by_the_rule(of: dict[str, dict[bytes, int]], trading: set[str], n: int) -> list[bytes]:
    """``first(n)`` by its rule, the slow way: the makers that do not trade first; of
    them the one holding the most not yet taken, then the one whose next is oldest."""
    left = {m: list(held.items()) for m, held in of.items()}
    out: list[bytes] = []
    while len(out) < n and any(left.values()):
        m = min(
            (m for m, v in left.items() if v),
            key=lambda m: (m in trading, -len(left[m]), left[m][0][1]),
        )
        out.append(left[m].pop(0)[0])
    return out


def test_first_keeps_its_rule_under_random_churn() -> None:
    rng = random.Random(62)
    trading: set[str] = set()
    q = UnfundedMakers(trading.__contains__)
    makers = [f"m{i}" for i in range(12)]
    n = 0
    for _ in range(3_000):
        m = rng.choice(makers)
        roll = rng.random()
        if roll < 0.45:
            q.add(m, b"%d" % (n := n + 1))
        elif roll < 0.75 and q.of.get(m):
            q.discard(m, rng.choice(list(q.of[m])))
        elif roll < 0.9:
            trading.symmetric_difference_update({m})  # (its open count moved: touched)
            q.touch(m)
        else:
            k = rng.randrange(0, 6)
            want = _by_the_rule(q.of, trading, k)
            assert q.first(k) == want
            for h in want[: rng.randrange(0, len(want) + 1)]:  # (some close, as evicted)
                q.discard(next(m for m, held in q.of.items() if h in held), h)
