"""The node's own settlements held ahead of the mirror (``Mirror.ahead``) until the chain
shows where their blocks went: a devnet rewound below them with nothing mined since, more
receipts ahead than are kept decoded, and a failed settlement's diagnosis reading a maker's
funds while another settlement of that maker is mined but not confirmed. (The watcher a
block behind, the receipts first: ``tests/test_mirror_lag.py``.)"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.gossip import NodeKey, PeerClient
from sdex.matching.match import Match
from sdex.mirror.own import OwnReceipt, OwnReceipts, Stub
from sdex.model import FillEvent, OrderStatus
from sdex.order import SignedOrder
from sdex.settlement import Outcome, SettledMatch
from sdex.watch import fork
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_hostile import _raw_signed_post, addressee
from tests.test_mirror import assert_mirror_matches_chain, synced
from tests.test_mirror_lag import HoldBlock, Moves, settled_past_the_watcher, spendable_of
from tests.test_node import ALICE, BOB, CAROL, DAVE, E6, E18, ask, bid


async def follows(api: Api, node: Any, c: Chain, orders: list[SignedOrder]) -> bool:
    """Each order as the chain has it, none in flight: the filled amount the node reports
    (``GET /v1/orders/{hash}``: also for an order closed and no longer held) is the chain's;
    filled in full on the chain is ``filled`` on the node, and an order the book holds has
    the chain's filled amount. (Reopened orders may cross again and settle anew, leaving
    dust that closes them: the chain then has them fillable and the node closed.)"""
    for s in orders:
        chain_filled = c.exchange.order_info(s.order).filled
        book = node.book.get(s.hash)
        if book is not None and (book.pending or book.filled != chain_filled):
            return False
        code, rec = await api.get(f"/v1/orders/{s.hash_hex}")
        if code != 200 or int(rec["metaData"]["filledMakerAmount"]) != chain_filled:
            return False
        if chain_filled == s.order.maker_amount and rec["metaData"]["status"] != "filled":
            return False
        if book is None and rec["metaData"]["status"] in ("open", "partially_filled"):
            return False
    return True


async def undone_by_a_rewind(
    c: Chain, node: Any, api: Api, settled: tuple[HoldBlock, str, SignedOrder, SignedOrder]
) -> None:
    """The chain rewound to the watcher's head (``settled_past_the_watcher``'s snapshot),
    nothing mined since, the watcher let go: the settled ask is reopened, and both orders
    end as the chain has them."""
    hold, snap, resting, taker = settled
    moves = Moves(node)
    assert c.rpc.call("evm_revert", snap) is True  # back to the watcher's head
    for s in c.senders:
        s.forget_nonce()
    hold.release()  # nothing mined: the chain's head is the watcher's own

    await wait_for(lambda: "status open" in moves.of(resting.hash), timeout=30)
    await wait_for(lambda: follows(api, node, c, [resting, taker]), timeout=30)
    await synced(node, c)
    assert await follows(api, node, c, [resting, taker])


async def test_an_own_fill_a_devnet_rewinds_below_with_nothing_mined_since_is_undone(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node settles an order in block n+1 and confirms it from the receipt; the chain
    is rewound to block n (the watcher's head) and nothing is mined: no block at n+1 will
    show the mirror that the receipt's is gone. Once the chain has answered below it for
    ``BEHIND_SECONDS`` (a devnet), its orders are judged again from the chain."""
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    # (polled heads: a newHeads notification of the settlement's block, come while the
    # watcher is held, would have it apply that block from the receipt before the rewind)
    async with running_node(node_config(c, tmp_path / "n.db", new_heads=False)) as (node, api):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        await undone_by_a_rewind(c, node, api, (hold, snap, resting, taker))
        assert not node.mirror.own and not node.mirror.ahead()[0]
        await assert_mirror_matches_chain(node, c, [resting, taker])


async def test_an_own_receipt_no_longer_kept_decoded_is_still_undone_when_reorged_out(
    chain: Chain, tmp_path: Path
) -> None:
    """More receipts ahead of the watcher than it keeps decoded (``OwnReceipts.cap``, made
    1 here): the oldest is kept as a stub, its orders still ahead; its block reorged out
    before the watcher got there, its orders are judged again as a kept receipt's are."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        node.mirror.own.cap = 1
        await wait_for(lambda: node.watcher.caught_up.is_set())
        salt = c.exchange.min_valid_salt(c.address(DAVE)) + 10**9
        asks = [c.sign(ask(c, DAVE, E18 // 10, (300 + 10 * i) * E6, salt=salt + i)) for i in (0, 1)]
        for s in asks:
            assert (await api.post_taken(s))[0] == 201
        hold = HoldBlock(node)
        await hold.inside(c.exchange.cancel_orders_up_to(c.sender(DAVE), salt - 1).block_number)
        snap = c.rpc.call("evm_snapshot")
        bids = [c.sign(bid(c, BOB, E18 // 10, (300 + 10 * i) * E6)) for i in (0, 1)]
        for s in bids:  # one settlement each, one after the other
            assert (await api.post_taken(s))[0] == 201
            await wait_for(lambda s=s: node.records[s.hash].status is OrderStatus.FILLED, 20)
        assert len(node.mirror.own) == 1 and len(node.mirror.own.stubs) == 1
        assert all(s.hash in node.mirror.ahead()[0] for s in asks)

        moves = Moves(node)
        assert c.rpc.call("evm_revert", snap) is True  # both settlements' blocks gone
        for s in c.senders:
            s.forget_nonce()
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")
        hold.release()

        orders = asks + bids
        await wait_for(lambda: all("status open" in moves.of(s.hash) for s in asks), timeout=30)
        await wait_for(lambda: follows(api, node, c, orders), timeout=30)
        await synced(node, c)
        assert await follows(api, node, c, orders)
        await assert_mirror_matches_chain(node, c, orders)


async def test_a_failed_settlements_diagnosis_does_not_take_a_mined_unconfirmed_fill_twice(
    chain: Chain, tmp_path: Path
) -> None:
    """Dave may spend 0.2 WETH, in two asks. One settles (mined, its results not applied
    yet: the fill still in flight in the book); the other's settlement fails (the taker
    moved his USDC away) and is diagnosed from a read at "latest", which has the first
    fill. Dave's funds are not taken from that read: the first settlement's confirm takes
    its fill off once, and the book has what the chain has."""
    c = chain
    dave, bob = c.address(DAVE), c.address(BOB)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        first = c.sign(ask(c, DAVE, E18 // 10, 300 * E6))
        second = c.sign(ask(c, DAVE, E18 // 10, 310 * E6))
        low = c.sign(bid(c, BOB, E18 // 100, 20 * E6))  # (the mirror reads Bob's USDC)
        for s in (first, second, low):
            assert (await api.post_taken(s))[0] == 201
        hold = HoldBlock(node)
        await hold.inside(c.weth.approve(c.sender(DAVE), c.exchange.address, E18 // 5).block_number)
        assert node.book.funds(dave, c.weth.address) == E18 // 5

        gate, diagnosed = asyncio.Event(), asyncio.Event()
        on_result, diagnose = node.settler.on_result, node._diagnose

        async def gated(results: list[SettledMatch]) -> None:
            if any(r.outcome is Outcome.SETTLED for r in results):
                await asyncio.wait_for(gate.wait(), 60)
            await on_result(results)

        async def noted(failed: list[Match], *rest: Any) -> None:
            await diagnose(failed, *rest)
            diagnosed.set()

        node.settler.on_result = gated  # type: ignore[method-assign]
        node._diagnose = noted  # type: ignore[method-assign]

        assert (await api.post_taken(c.sign(bid(c, CAROL, E18 // 10, 300 * E6))))[0] == 201
        await wait_for(lambda: c.exchange.order_info(first.order).filled == E18 // 10, 20)
        c.usdc.transfer(c.sender(BOB), c.address(ALICE), c.usdc.balance_of(bob))
        taker = c.sign(bid(c, BOB, E18 // 10, 310 * E6))  # (judged by the mirror: funded)
        assert (await api.post_taken(taker))[0] == 201
        await asyncio.wait_for(diagnosed.wait(), 30)  # the second settlement failed
        assert c.exchange.order_info(second.order).filled == 0
        gate.set()  # the first settlement's results: its confirm
        await wait_for(lambda: node.records[first.hash].status is OrderStatus.FILLED, 20)
        assert spendable_of(c, DAVE) == E18 // 10
        assert node.book.funds(dave, c.weth.address) == E18 // 10  # (not 0: taken once)

        hold.release()
        await synced(node, c)
        assert node.book.funds(dave, c.weth.address) == spendable_of(c, DAVE)
        await assert_mirror_matches_chain(node, c, [first, second])


# -- OwnReceipts' counts, whatever the receipts do ---------------------------------------------

ORDERS = [bytes([i]) * 32 for i in range(4)]
PAYERS = [("0x" + f"{i:040x}", "0x" + "ee" * 20) for i in range(3)]


def receipt(tx: int, block: int, orders: list[int], payers: list[int]) -> OwnReceipt:
    fills = tuple(
        FillEvent(ORDERS[o], PAYERS[0][0], PAYERS[0][0], 1, 1, "", 0, block, f"0x{tx:x}", i)
        for i, o in enumerate(orders)
    )
    transfers = tuple((PAYERS[p][1], PAYERS[p][0], PAYERS[0][0], 1) for p in payers)
    return OwnReceipt(f"0x{tx:x}", f"0x{block:x}", block, fills, transfers, frozenset())


ops = st.one_of(
    st.tuples(
        st.just("add"),
        st.integers(0, 6),
        st.integers(1, 6),
        st.lists(st.integers(0, 3), max_size=3),
        st.lists(st.integers(0, 2), max_size=3),
    ),
    st.tuples(st.just("note"), st.integers(0, 6), st.integers(1, 6), st.lists(st.integers(0, 3))),
    st.tuples(st.just("passed"), st.integers(0, 6)),
    st.tuples(st.just("above"), st.integers(0, 6)),
    st.tuples(st.just("pop"), st.integers(0, 6)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ops, max_size=40), st.integers(0, 3), st.integers(0, 3))
def test_own_receipts_count_what_every_receipt_and_stub_kept_names(
    steps: list[tuple[Any, ...]], cap: int, stub_cap: int
) -> None:
    """After any run of adds, notes, passed heights, drops and pops: ``orders``/``payers``
    count exactly what the decoded receipts and the stubs name; at most ``cap`` and
    ``stub_cap`` of each are kept; an order let go (passed, dropped, overflowed) is
    reported unless the block is the mirror's (here: every even block is)."""
    own = OwnReceipts(cap, stub_cap)
    for step in steps:
        kind = step[0]
        if kind in ("add", "note"):
            tx, before = f"0x{step[1]:x}", dict(own.stubs)
            if kind == "add":
                own.add(receipt(step[1], step[2], step[3], step[4]))
            else:
                orders = tuple(ORDERS[o] for o in step[3])
                own.note(tx, Stub(f"0x{step[2]:x}", step[2], orders, (), 0.0))
            let_go = [s for t, s in before.items() if t not in own.stubs and t != tx]
            assert {o for s in let_go for o in s.orders} <= own.overflow.keys()  # (never silently)
        elif kind == "passed":
            n = step[1]
            passing = {f.order_hash for r in own.values() if r.block_number <= n for f in r.fills}
            stubs = [s for s in own.stubs.values() if s.block_number <= n]
            passing |= {o for s in stubs if s.block_number % 2 for o in s.orders}
            gone = own.passed(n, lambda b: f"0x{b:x}" if b % 2 == 0 else None)
            assert gone == passing  # (not applied: orphaned; a stub of a block not ours)
            assert all(r.block_number > n for r in own.values())
            assert all(s.block_number > n for s in own.stubs.values())
        elif kind == "above":
            txs = own.above(step[1])
            named = {f.order_hash for tx in txs if tx in own for f in own[tx].fills}
            named |= {o for tx in txs if tx in own.stubs for o in own.stubs[tx].orders}
            let_go = any(tx in own.overflow_txs for tx in txs)
            assert own.drop(txs, step[1]) == named and not own.above(step[1])
            if let_go:  # (the let-go orders held up to the chain's head only)
                assert all(n <= step[1] for n in own.overflow.values())
        else:
            own.pop(f"0x{step[1]:x}")
        assert len(own) <= cap and len(own.stubs) <= stub_cap
        want_orders: dict[bytes, int] = {}
        want_payers: dict[tuple[str, str], int] = {}
        for r in own.values():
            for f in r.fills:
                want_orders[f.order_hash] = want_orders.get(f.order_hash, 0) + 1
            for p in r.payers():
                want_payers[p] = want_payers.get(p, 0) + 1
        for s in own.stubs.values():
            for o in s.orders:
                want_orders[o] = want_orders.get(o, 0) + 1
            for p in s.payers:
                want_payers[p] = want_payers.get(p, 0) + 1
        assert dict(own.orders) == want_orders
        assert dict(own.payers) == want_payers


async def test_a_peers_settlement_applied_a_block_early_is_not_lowered_by_the_block_before(
    chain: Chain, tmp_path: Path
) -> None:
    """Alice's ask is filled twice elsewhere, in blocks n and n+1. A peer's notice of the
    second fill comes while the watcher is inside block n: the node reads the chain and
    shows both fills. Block n's verdict (the mirror has the first fill only) must not take
    the second back until block n+1 (on the websocket: filled down, then up again)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        resting = c.sign(ask(c, ALICE, 3 * E18 // 10, 900 * E6))
        assert (await api.post_taken(resting))[0] == 201
        hold = HoldBlock(node)  # the watcher inside block n, before its verdicts
        await hold.inside(c.exchange.fill_order(c.sender(BOB), resting, 300 * E6).block_number)

        moves = Moves(node)
        second = c.exchange.fill_order(c.sender(BOB), resting, 300 * E6)  # block n+1
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        body = json.dumps({"txHash": second.tx_hash}).encode()
        assert (
            await _raw_signed_post(peer, api.base, "/p2p/settlements", body, addressee(node)) == 200
        )
        assert moves.of(resting.hash) == [f"filled {2 * E18 // 10}"]

        hold.release()
        await synced(node, c)
        assert moves.of(resting.hash) == [f"filled {2 * E18 // 10}"]  # (never lowered)
        book = node.book.get(resting.hash)
        assert book is not None and book.filled == 2 * E18 // 10
        assert not node.mirror.ahead()[0]
        await assert_mirror_matches_chain(node, c, [resting])
