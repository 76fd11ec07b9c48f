"""The mirror against the chain under reorgs, randomized (hypothesis; real Hardhat, SQLite
and a node): orders posted and settled by the node, direct fills, ERC20 transfers and
approvals, cancels and cancel-up-to, ``evm_snapshot``/``evm_revert`` of random depth
(beyond the node's ``reorg_depth`` of 4: resets too), empty blocks mined and time jumps.
After each step, once the node has caught up, the mirror equals the chain: every order's
``getOrderStates`` row, every (maker, token)'s balance and allowance the mirror holds,
every maker's ``minValidSalt``; and every order's status is the chain's verdict (what is
left below the book's lot closes as ``filled``), except an order the node removed by its
own policy, a reason given (an IOC's unmatched rest or undone fills, a maker's order that
crossed another of its own once a revert reopened it): it stays ``removed`` even when the
chain later fills it (found here; left, docs/ISSUES_STATUS.md item 6). Also found here and
fixed: an order closed as filled or expired that the chain then cancelled by hash stayed so
(the chain says CANCELLED first; ``tests/test_closed_then_cancelled.py``)."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sdex.chain import OrderStatus
from sdex.errors import SdexError
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.watch import fork, loop
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_mirror import head, revert
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid

MAKERS = [ALICE, CAROL, DAVE]
TAKERS = [BOB, 8]
HOUR = 3600

steps = st.one_of(
    # maker, an ask (else a bid), tenths of WETH, price offset, expiry in hours
    st.tuples(
        st.just("order"),
        st.sampled_from(MAKERS),
        st.booleans(),
        st.integers(1, 5),
        st.integers(-50, 50),
        st.integers(1, 3),
    ),
    st.tuples(st.just("cross"), st.integers(0, 99), st.sampled_from(TAKERS)),
    st.tuples(st.just("fill"), st.integers(0, 99), st.sampled_from(TAKERS), st.integers(1, 3)),
    st.tuples(st.just("transfer"), st.sampled_from(MAKERS), st.booleans(), st.integers(2, 20)),
    st.tuples(st.just("approve"), st.sampled_from(MAKERS), st.booleans(), st.integers(0, 10)),
    st.tuples(st.just("cancel"), st.integers(0, 99)),
    st.tuples(st.just("upto"), st.sampled_from(MAKERS)),
    st.tuples(st.just("snapshot")),
    st.tuples(st.just("revert"), st.integers(0, 4)),
    st.tuples(st.just("mine"), st.integers(1, 9)),
    st.tuples(st.just("time"), st.integers(HOUR // 2, 2 * HOUR)),
)


@dataclass
class Run:
    c: Chain
    node: Node
    api: Api
    orders: list[SignedOrder] = field(default_factory=list)
    snaps: list[str] = field(default_factory=list)
    minimums: dict[str, int] = field(default_factory=dict)
    log: list[Any] = field(default_factory=list)

    def token(self, weth: bool) -> Any:
        return self.c.weth if weth else self.c.usdc

    def pick(self, i: int) -> SignedOrder | None:
        return self.orders[i % len(self.orders)] if self.orders else None

    async def step(self, s: tuple[Any, ...]) -> None:
        c, api = self.c, self.api
        kind = s[0]
        try:
            if kind == "order":
                _, maker, is_ask, tenths, off, hours = s
                base = tenths * E18 // 10
                quote = base * (3000 + off) * E6 // E18
                side = ask if is_ask else bid
                signed = c.sign(side(c, maker, base, quote, expiry=c.now() + hours * HOUR))
                code, _ = await api.post_order(signed, tif="gtc")
                if code == 201:
                    self.orders.append(signed)
            elif kind == "cross" and (o := self.pick(s[1])) is not None:
                # the taker's order at the maker's price: the node matches and settles it
                m = o.order
                side = bid if m.maker_token == c.weth.address else ask
                base, quote = (
                    (m.maker_amount, m.taker_amount)
                    if side is bid
                    else (m.taker_amount, m.maker_amount)
                )
                signed = c.sign(side(c, s[2], base, quote))
                if (await api.post_taken(signed, tif="ioc"))[0] == 201:
                    self.orders.append(signed)
            elif kind == "fill" and (o := self.pick(s[1])) is not None:
                c.exchange.fill_order(c.sender(s[2]), o, o.order.taker_amount // s[3])
            elif kind == "transfer":
                _, who, weth, part = s
                t = self.token(weth)
                amount = t.balance_of(c.address(who)) // part
                t.transfer(c.sender(who), c.address(TAKERS[0]), amount)
            elif kind == "approve":
                _, who, weth, n = s
                self.token(weth).approve(c.sender(who), c.exchange.address, n * E18 // 2)
            elif kind == "cancel" and (o := self.pick(s[1])) is not None:
                c.exchange.cancel_order(c.sender(c.index_of(o.order.maker)), o.order)
            elif kind == "upto":
                who = c.address(s[1])
                salts = [o.order.salt for o in self.orders if o.order.maker == who]
                if salts:  # (up to the middle one: some of its orders cancelled, some not)
                    up = sorted(salts)[len(salts) // 2]
                    if up > c.exchange.min_valid_salt(who):
                        c.exchange.cancel_orders_up_to(c.sender(s[1]), up)
            elif kind == "snapshot":
                self.snaps.append(c.rpc.call("evm_snapshot"))
            elif kind == "revert" and self.snaps:
                at = max(0, len(self.snaps) - 1 - s[1])
                revert(c, self.snaps[at])
                del self.snaps[at:]  # (Hardhat forgets it and every later one)
            elif kind == "mine":
                c.rpc.call("hardhat_mine", hex(s[1]))
            elif kind == "time":
                c.rpc.call("evm_increaseTime", s[1])
                c.rpc.call("hardhat_mine", "0x1")
        except SdexError:  # a random action the chain refused (a revert): fine
            pass

    async def caught_up(self) -> None:
        """At once: nothing matched waits for its settlement, the node has applied the
        chain's head (a reorg's orders matched again settle anew: the head moves on), and
        its watcher says ``ok``."""
        node, c = self.node, self.c

        def still() -> bool:
            if any(b.pending for b in node.book) or node.watcher.status != "ok":
                return False
            a = node.watcher.applied
            return a is not None and (a.number, a.hash) == head(c)

        await wait_for(still, timeout=30)

    async def check(self) -> None:
        """The mirror equals the chain; every order's status is the chain's verdict."""
        c, m = self.c, self.node.mirror
        for maker in MAKERS:
            who = c.address(maker)
            assert m.min_salt.get(who, 0) == c.exchange.min_valid_salt(who), (maker, self.log)
            for t in (c.weth, c.usdc):
                held = m.funds.get((who, t.address))
                if held is not None:
                    chain = (t.balance_of(who), t.allowance(who, c.exchange.address))
                    assert held == chain, (maker, t.address, held, chain, self.log)
        if not self.orders:
            return
        now = c.now()
        states = c.exchange.order_states(self.orders)
        for o, chain in zip(self.orders, states, strict=True):
            mine = m.state(o)
            status = await self.api.status(o)
            if abs(now - o.order.expiry) <= 5:  # (eth_call's block time may be a second on)
                continue
            if status in ("open", "partially_filled", "unfunded"):
                assert mine is not None, (o.hash_hex, status, self.log)
            if mine is not None:
                assert mine == chain, (o.hash_hex, mine, chain, self.log)
            allowed = verdicts(o, chain, self.minimums, now)
            rec = self.node.records.get(o.hash)
            why = rec.reason if rec is not None else None
            if why and rec is not None and rec.status.value == "removed":
                allowed.add("removed")  # (the node's policy, not the chain's verdict)
            assert status in allowed, (why, repr((o.hash_hex, status, chain, self.log))[-700:])


def lot(o: SignedOrder, minimums: dict[str, int]) -> int:
    """The least maker amount the book trades of ``o`` (``sdex.book.bookcore``): whole
    units at its price, at least the maker token's minimum, and enough to ask for the
    taker token's."""
    m, t = o.order.maker_amount, o.order.taker_amount
    g = math.gcd(m, t)
    unit, tunit = m // g, t // g
    least = minimums.get(o.order.maker_token, 0)
    out = -(-least // unit) * unit if least > unit else unit
    wants = minimums.get(o.order.taker_token, 0)
    if wants > tunit and -(-wants // tunit) * unit > out:
        out = -(-wants // tunit) * unit
    return out


def verdicts(o: SignedOrder, chain: Any, minimums: dict[str, int], now: int) -> set[str]:
    """The statuses the chain's row allows (an order rests, even partly funded, a rest below
    its lot all or nothing; what is left below the tokens' minimums, dust, is closed as
    ``filled``: ``sdex.book``)."""
    order = o.order
    if chain.status == OrderStatus.FILLED:
        return {"filled"}
    if chain.filled == order.maker_amount:  # filled whole, then cancelled: CANCELLED first
        # (after a cancel-up-to, ``tests/test_node_evict.py``; after a cancel by hash,
        # ``tests/test_closed_then_cancelled.py``: it was ``filled`` before, found here)
        return {"cancelled"}
    left = order.maker_amount - chain.filled
    if chain.status == OrderStatus.FILLABLE and chain.filled and left < lot(o, minimums):
        # less than its lot: all or nothing at its own cost while that moves both minimums
        # (dust38, ``sdex.book.terms``), else dust
        cost = -(-left * order.taker_amount // order.maker_amount)
        if left < minimums.get(order.maker_token, 0) or cost < minimums.get(order.taker_token, 0):
            return {"filled"}
    if chain.status == OrderStatus.CANCELLED:  # (also once expired: CANCELLED first)
        return {"cancelled"}
    if chain.status == OrderStatus.EXPIRED:
        return {"expired"}
    spendable = min(chain.maker_balance, chain.maker_allowance)
    moving = "partially_filled" if chain.filled else "open"
    if spendable == 0:
        return {"unfunded"}
    if spendable >= o.order.maker_amount - chain.filled:
        return {moving}
    return {moving, "unfunded"}


examples = itertools.count()


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """A devnet rewound with nothing mined (``evm_revert``) is followed after 0.2 s, not 5
    s; the safety poll and backoff short: the waits after each step come sooner."""
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 0.2)
    monkeypatch.setattr(loop, "SUBSCRIBED_POLL", 0.2)
    monkeypatch.setattr(loop, "MAX_BACKOFF", 0.2)


EXAMPLES = int(os.environ.get("SDEX_REORG30_EXAMPLES", "6"))
"""Examples run (6 in the suite: some seconds; more for a longer hunt)."""
STATS: list[tuple[int, int, int]] = []


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(run=st.lists(steps, min_size=4, max_size=14))
@example(run=[("order", ALICE, False, 1, 1, 1), ("fill", 0, BOB, 3), ("cross", 0, BOB)])
@example(  # an expired order cancelled by hash on chain: the chain says CANCELLED
    run=[("order", ALICE, False, 1, 0, 1), ("revert", 0), ("time", 3153), ("cancel", 0)]
)
@example(  # a filled order below its maker's cancel-up-to: re-closed as cancelled
    run=[
        ("order", ALICE, False, 1, 0, 1),
        ("cross", 0, BOB),
        ("order", ALICE, False, 1, 0, 1),
        ("upto", ALICE),
    ]
)
@example(  # a revert reopens ALICE's ask below her later bid: one removed (self-trade)
    run=[
        ("order", ALICE, True, 1, -29, 2),
        ("cross", 0, 8),
        ("order", ALICE, False, 4, 42, 1),
        ("revert", 0),
    ]
)
@example(  # a settlement undone by a revert with nothing mined, matched and settled again
    # (found here: the check ran while that second settlement was on its way, ``caught_up``)
    run=[
        ("order", ALICE, False, 1, 0, 1),
        ("order", DAVE, True, 1, 0, 1),
        ("cancel", 0),
        ("cancel", 0),
        ("revert", 0),
        ("time", 4183),
    ]
)
def test_the_mirror_equals_the_chain_under_random_reorgs(
    chain: Chain, tmp_path: Path, quick: None, run: list[tuple[Any, ...]]
) -> None:
    c = chain
    base = c.rpc.call("evm_snapshot")
    try:
        asyncio.run(_scenario(c, tmp_path / f"n{next(examples)}.db", run))
    finally:
        revert(c, base)
    if os.environ.get("SDEX_REORG30_STATS"):
        print("steps, reorgs, resets:", STATS[-1:])


async def _scenario(c: Chain, db: Path, run: list[tuple[Any, ...]]) -> None:
    cfg = node_config(c, db, reorg_depth=4, closed_grace=3600.0)
    async with running_node(cfg) as (node, api):
        r = Run(c, node, api, minimums=dict(node.book.minimums))
        r.snaps.append(c.rpc.call("evm_snapshot"))  # (a revert has somewhere to go)
        await r.caught_up()
        for s in run:
            r.log.append(s)
            await r.step(s)
            await r.caught_up()
            await r.check()
        w = node.watcher
        STATS.append((len(run), w.reorgs, w.resets))
