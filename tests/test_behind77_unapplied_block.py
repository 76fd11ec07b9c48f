"""behind77: no settlement is signed while a block the watcher knows of is not applied to the
book yet (up to ``sdex.watch.unapplied.BOUND``; revert78: no grace before).

Found by ``bench/chaos52.py --seeds 29`` with every fault mix (``/tmp/chaos52-29-ifux_s46``,
node 1, reproduced on a rerun): the node's database was locked 1.6 s (another connection's
``BEGIN IMMEDIATE``); its watcher, waiting on the store's writer to save its head, had not
applied block 94, where another node's settlement filled a bid whole; 10 ms after the lock
ended an ask posted to it matched that bid, and the settlement it signed reverted
``OrderNotFillable``, the operator paying. Now the match waits in the settler's queue until
the watcher applied the block, and is withdrawn (the bid filled): nothing is sent.

Real Hardhat, a real node served in-process (``running_node``: the subject is the settler's
hold, not the process; suite97), a real SQLite write lock from another connection (the
watcher's save of block X's head waits on it, block N announced behind it)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, saved_head, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR


async def health(api: Api) -> dict[str, Any]:
    return dict((await api.get("/health"))[1])  # (503 while degraded: the body says)


def resting_and_crossing(c: Chain) -> tuple[SignedOrder, SignedOrder]:
    """Bob's bid, and Alice's ask that crosses it."""
    resting = c.sign(bid(c, BOB, E18 // 10, 300 * E6), BOB)
    return resting, c.sign(ask(c, ALICE, E18 // 10, 290 * E6), ALICE)


async def head_saved(c: Chain, db: Path) -> None:
    """Until the node on ``db`` saved a head at the chain's block of now or above (its blocks
    so far applied: what ``node_up`` waits for before it yields)."""
    top = int(c.rpc.call("eth_blockNumber"), 16)
    await wait_for(lambda: saved_head(db) >= top, timeout=30)


@contextlib.asynccontextmanager
async def block_known_unapplied(
    c: Chain, api: Api, db: Path, resting: SignedOrder
) -> AsyncIterator[tuple[int, int]]:
    """``resting`` booked and its block's head saved; then the store's writer held by a
    lock from another connection (block X applied, its head's save waiting on it) and
    ``resting`` filled whole on chain in block N, announced behind X. Yields (the operator's
    nonce before, N); the lock ends on leaving."""
    assert (await api.post_order(resting))[0] == 201
    c.rpc.call("evm_mine")
    below = int(c.rpc.call("eth_blockNumber"), 16)
    await wait_for(lambda: saved_head(db) >= below, timeout=30)
    sent = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
    lock = sqlite3.connect(db, timeout=30, isolation_level=None)
    try:
        lock.execute("BEGIN IMMEDIATE")  # the node's writer waits (5 s busy timeout)
        c.rpc.call("evm_mine")  # block X: applied, its head's save waits on the lock

        async def took_x() -> bool:
            return int((await health(api))["chainMirror"]["head"]) > below

        await wait_for(took_x, timeout=20)
        # block N: the bid filled whole on chain; announced, not applied behind X
        c.exchange.fill_order(c.sender(CAROL), resting, resting.order.taker_amount)
        yield sent, int(c.rpc.call("eth_blockNumber"), 16)
    finally:
        lock.rollback()
        lock.close()


async def post_matched(api: Api, crossing: SignedOrder) -> asyncio.Future[Any]:
    """``crossing`` posted (its answer: the future returned), once it is matched."""
    post = asyncio.ensure_future(api.post_order(crossing))  # (its commit waits)

    async def matched() -> bool:
        code, rec = await api.get(f"/v1/orders/{crossing.hash_hex}")
        return code == 200 and rec["metaData"]["pendingMakerAmount"] != "0"

    await wait_for(matched, timeout=20)
    return post


async def withdrawn(
    c: Chain,
    api: Api,
    orders: tuple[SignedOrder, SignedOrder],
    sent: int,
    post: Any,
    why: object = None,
) -> dict[str, Any]:
    """Once the lock ended: the resting order filled, the crossing one's match withdrawn (it
    rests open), nothing sent or failed since the nonce ``sent``; ``/health`` returned."""
    resting, crossing = orders
    with contextlib.suppress(aiohttp.ClientError):
        await post

    async def settled_down() -> bool:
        _, a = await api.get(f"/v1/orders/{crossing.hash_hex}")
        _, b = await api.get(f"/v1/orders/{resting.hash_hex}")
        m = a["metaData"]
        return b["metaData"]["status"] == "filled" and m["pendingMakerAmount"] == "0"

    await wait_for(settled_down, timeout=30)
    stats = await health(api)
    after = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "latest"), 16)
    # before: signed behind the lock, sent once it ended, reverted OrderNotFillable
    assert (after - sent, stats["matchesFailed"]) == (0, 0), (stats, why)  # (withdrawn)
    assert stats["settlementsSent"] == 0
    assert (await api.status(crossing)) == "open"  # (its match withdrawn: it rests)
    return stats


async def test_a_match_of_an_order_a_known_unapplied_block_filled_is_not_signed(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    db = tmp_path / "n.db"
    resting, crossing = resting_and_crossing(c)
    async with running_node(node_config(c, db, OPERATOR)) as (_, api):
        await head_saved(c, db)
        async with block_known_unapplied(c, api, db, resting) as (sent, n):

            async def known() -> bool:  # (past the grace; before: no such field)
                seen = (await health(api))["chainMirror"].get("unapplied")
                if seen is None:
                    return True
                return int(seen["latestKnown"]) >= n and float(seen["behindSeconds"]) > 0.2

            await wait_for(known, timeout=20)
            post = await post_matched(api, crossing)
            held = (await health(api))["chainMirror"].get("unapplied", {})
        await withdrawn(c, api, (resting, crossing), sent, post)
        assert held.get("signing") == "held", held


def test_the_hold_begins_when_known_and_ends_applied_or_past_the_bound(
    monkeypatch: Any,
) -> None:
    """(no chain) ``Unapplied``: a known block holds signing at once (revert78: no grace) up
    to ``BOUND``, the oldest unapplied one's age counted; a poll's lower answer drops the
    blocks above it. Each hold a signing met is counted, with its time."""
    from sdex.watch import unapplied as mod

    now = [100.0]
    monkeypatch.setattr(mod.time, "monotonic", lambda: now[0])
    u, woken = mod.Unapplied(), []
    u.cleared = lambda: woken.append(1)
    u.caught_up(10)
    cases = [  # (step, then: holding?)
        (lambda: u.saw(10), False),  # applied already
        (lambda: u.saw(11), True),  # known now: held at once
        (lambda: now.__setitem__(0, 100.05), True),
        (lambda: u.saw(12), True),  # (the oldest's age counts)
        (lambda: u.caught_up(11), True),  # 12 still known
        (lambda: now.__setitem__(0, 100.1), True),
        (lambda: u.saw(11, polled=True), False),  # the chain below 12: a rewind
        (lambda: u.saw(13), True),
        (lambda: now.__setitem__(0, 101.0 + mod.BOUND), False),  # past the bound: let go
    ]
    for i, (step, holding) in enumerate(cases):
        step()
        assert u.holding() is holding, i
    assert u.let_go == 1 and u.to_json()["signing"] == "not held: past bound"
    u.caught_up(13)
    got = u.to_json()
    assert got["oldestUnapplied"] is None and got["signing"] == "free"
    # two holds met: 11..12 (from 100.0 to the rewind at 100.1), 13 (100.1 to its bound)
    assert (got["holds"], woken) == (2, [1, 1]), got
    assert got["longestHold"] == round(1.0 + mod.BOUND - 0.1, 3), got


def test_a_block_of_our_settlement_alone_holds_nothing(monkeypatch: Any) -> None:
    """(no chain) A known block holding the node's own settlement alone (its receipt here:
    the book has its changes) holds no signature; one after it that is not does; a hold
    on a block found own once its receipt came ends (``ended``), the settler woken."""
    from sdex.watch import unapplied as mod

    now = [0.0]
    monkeypatch.setattr(mod.time, "monotonic", lambda: now[0])
    u, woken, mine = mod.Unapplied(), [], {5}
    u.cleared = lambda: woken.append(1)
    u.own = lambda n: n in mine
    u.caught_up(4)
    u.saw(5)
    now[0] = 1.0
    assert not u.holding() and u.to_json()["oldestUnapplied"] is None
    u.saw(6)
    assert u.holding() and u.to_json()["oldestUnapplied"] == 6
    mine.add(6)  # (its receipt came: it holds our settlement alone)
    u.ended()
    assert not u.holding() and woken == [1] and u.holds == 1
