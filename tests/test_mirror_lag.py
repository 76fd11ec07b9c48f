"""The node's own settlement receipts come before the watcher reaches their blocks: a verdict
the watcher takes meanwhile from the mirror (a block behind) must not undo those fills.

Seen once in CI as the random run of tests/test_mirror.py: a maker's cancel-up-to made the
watcher re-judge that maker's orders from the mirror at the cancel's block, after the node
had settled one of them in the next block. The order came back to the book as open with
nothing filled, and the block of the fill, the node's own, did not look at it again."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from sdex.mirror import Header, Mirror
from sdex.model import OrderStatus
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_mirror import assert_mirror_matches_chain, synced
from tests.test_node import BOB, DAVE, E6, E18, ask, bid


class HoldBlock:
    """Stops ``node``'s watcher inside one block's changes (``inside``), before the node
    judges that block's orders from the mirror, until ``release``: meanwhile the node's
    own settlements go on, their receipts coming before the watcher reaches their blocks."""

    def __init__(self, node: Node) -> None:
        self.block = -1
        self.gate, self.entered = asyncio.Event(), asyncio.Event()
        self._moved = node._contract_sigs_moved
        node._contract_sigs_moved = self._held  # type: ignore[method-assign]

    async def _held(self, head: int) -> set[bytes]:
        if head == self.block and not self.gate.is_set():
            self.entered.set()
            await asyncio.wait_for(self.gate.wait(), 60)
        return await self._moved(head)

    async def inside(self, block: int) -> None:
        """Wait until the watcher is held inside ``block`` (just mined)."""
        self.block = block
        await asyncio.wait_for(self.entered.wait(), 20)

    def release(self) -> None:
        self.gate.set()


class Moves:
    """Every status move and filled amount ``node``'s registry is told from now on."""

    def __init__(self, node: Node) -> None:
        self.seen: list[tuple[bytes, str]] = []
        reg = node.registry
        transition, set_filled = reg.transition, reg.set_filled

        def moved(rec: Any, status: OrderStatus, *args: Any, **kw: Any) -> Any:
            self.seen.append((rec.signed.hash, f"status {status.value}"))
            return transition(rec, status, *args, **kw)

        def filled(order_hash: bytes, amount: int) -> None:
            self.seen.append((order_hash, f"filled {amount}"))
            set_filled(order_hash, amount)

        reg.transition = moved  # type: ignore[method-assign]
        reg.set_filled = filled  # type: ignore[method-assign]

    def of(self, order_hash: bytes) -> list[str]:
        return [what for h, what in self.seen if h == order_hash]


async def test_a_verdict_from_an_older_block_does_not_undo_the_nodes_own_fills(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        salt = c.exchange.min_valid_salt(c.address(DAVE)) + 10**9
        whole = c.sign(ask(c, DAVE, E18 // 10, 300 * E6, salt=salt))  # at 3,000
        part = c.sign(ask(c, DAVE, E18 // 5, 620 * E6, salt=salt + 1))  # at 3,100
        for s in (whole, part):
            assert (await api.post_taken(s))[0] == 201

        # The watcher stops inside the block of Dave's cancel-up-to (which cancels neither
        # order), just before it re-judges Dave's orders from the mirror at that block.
        hold = HoldBlock(node)
        await hold.inside(c.exchange.cancel_orders_up_to(c.sender(DAVE), salt - 1).block_number)

        # Meanwhile the node settles Bob's bids against both asks: all of one, half of the
        # other, in later blocks; their receipts come first and the node confirms them.
        for o in (bid(c, BOB, E18 // 10, 300 * E6), bid(c, BOB, E18 // 10, 310 * E6)):
            assert (await api.post_taken(c.sign(o)))[0] == 201
        await wait_for(lambda: node.settler.settled == 2, timeout=20)
        assert node.records[whole.hash].status is OrderStatus.FILLED
        held_part = node.book.get(part.hash)
        assert held_part is not None and held_part.filled == E18 // 10

        moves = Moves(node)
        hold.release()  # the watcher goes on: the cancel's block, then the fills' blocks
        await synced(node, c)
        # never undone meanwhile (back in the book, matched again: a failed settlement)
        assert moves.of(whole.hash) == [] and moves.of(part.hash) == [], moves.seen
        assert node.records[whole.hash].status is OrderStatus.FILLED
        assert node.book.get(whole.hash) is None
        assert node.records[part.hash].status is OrderStatus.PARTIALLY_FILLED
        st = node.book.get(part.hash)
        assert st is not None and st.filled == E18 // 10 and st.pending == 0
        await assert_mirror_matches_chain(node, c, [whole, part])


async def settled_past_the_watcher(
    c: Chain, node: Any, api: Api
) -> tuple[HoldBlock, str, SignedOrder, SignedOrder]:
    """Dave's ask and Bob's bid settled in one match while the watcher is held inside the
    block before (Dave's cancel-up-to), with an ``evm_snapshot`` taken there: the hold, the
    snapshot, the ask and the bid. The node has confirmed the fill from its receipt."""
    await wait_for(lambda: node.watcher.caught_up.is_set())
    salt = c.exchange.min_valid_salt(c.address(DAVE)) + 10**9
    resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6, salt=salt))
    assert (await api.post_taken(resting))[0] == 201
    hold = HoldBlock(node)
    await hold.inside(c.exchange.cancel_orders_up_to(c.sender(DAVE), salt - 1).block_number)
    snap = str(c.rpc.call("evm_snapshot"))  # the watcher is inside this block
    taker = c.sign(bid(c, BOB, E18 // 10, 300 * E6))
    assert (await api.post_taken(taker))[0] == 201
    await wait_for(lambda: node.settler.settled == 1, timeout=20)
    assert node.records[resting.hash].status is OrderStatus.FILLED
    return hold, snap, resting, taker


async def test_an_own_fill_whose_block_is_reorged_out_before_the_watcher_gets_there_is_undone(
    chain: Chain, tmp_path: Path
) -> None:
    """The node settles an order and confirms it from the receipt; the block is reorged out
    before the watcher applied it (the watcher never saw it): once the head passes that
    height without it, the order is judged again from the chain (``Effects.orphaned``)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        hold, snap, resting, taker = await settled_past_the_watcher(c, node, api)
        assert c.exchange.order_info(resting.order).filled == E18 // 10

        assert c.rpc.call("evm_revert", snap) is True  # the settlement's block is gone
        for s in c.senders:
            s.forget_nonce()
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")
        hold.release()

        # the node follows the chain back: the orders are open again (and may cross and
        # settle again: then the chain has the fills, and so does the node)
        def follows() -> bool:
            for s in (resting, taker):
                chain_filled = c.exchange.order_info(s.order).filled
                rec = node.records.get(s.hash)
                st = node.book.get(s.hash)
                if rec is None or (st is not None and st.pending):
                    return False
                if chain_filled == s.order.maker_amount:
                    if rec.status is not OrderStatus.FILLED or st is not None:
                        return False
                elif st is None or st.filled != chain_filled:
                    return False
            return True

        await wait_for(follows, timeout=30)
        await synced(node, c)
        assert follows()
        await assert_mirror_matches_chain(node, c, [resting, taker])


async def test_funds_from_a_block_behind_do_not_give_back_what_the_nodes_own_fills_spent(
    chain: Chain, tmp_path: Path
) -> None:
    """A maker's order arriving (or any verdict) while the watcher is a block behind the
    node's own settlement takes funds from the mirror; the book had taken that settlement's
    fill off them already: it must not show the maker's tokens twice."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        dave = c.address(DAVE)
        first = c.sign(ask(c, DAVE, E18 // 10, 300 * E6))
        second = c.sign(ask(c, DAVE, E18 // 10, 310 * E6))
        for s in (first, second):
            assert (await api.post_taken(s))[0] == 201
        hold = HoldBlock(node)
        # Dave may spend 0.2 WETH (both asks); the watcher stops inside that block
        await hold.inside(c.weth.approve(c.sender(DAVE), c.exchange.address, E18 // 5).block_number)
        assert node.book.funds(dave, c.weth.address) == E18 // 5

        taker = c.sign(bid(c, BOB, E18 // 10, 300 * E6))  # takes the first ask
        assert (await api.post_taken(taker))[0] == 201
        await wait_for(lambda: node.settler.settled == 1, timeout=20)
        assert node.book.funds(dave, c.weth.address) == E18 // 10  # the fill taken off

        third = c.sign(ask(c, DAVE, E18 // 10, 320 * E6))  # judged by the mirror, a block behind
        assert (await api.post_taken(third))[0] == 201
        assert node.book.funds(dave, c.weth.address) == E18 // 10
        offered = sum(st.fillable for h in (second.hash, third.hash) if (st := node.book.get(h)))
        assert offered == E18 // 10  # what Dave can pay, once

        hold.release()
        await synced(node, c)
        assert node.book.funds(dave, c.weth.address) == spendable_of(c, DAVE) == E18 // 10
        await assert_mirror_matches_chain(node, c, [first, second, third])


def spendable_of(c: Chain, who: int) -> int:
    owner = c.address(who)
    return min(c.weth.balance_of(owner), c.weth.allowance(owner, c.exchange.address))


async def test_a_block_the_watcher_applied_before_the_receipt_came_does_not_take_the_fill_twice(
    chain: Chain, tmp_path: Path
) -> None:
    """The watcher waits for an own settlement's receipt (``EXPECT_PATIENCE``, 2 s), then
    reads that block itself: it sets the makers' funds after the fill while the match is
    still in flight. The receipt comes later and the confirm takes the fill off the funds;
    the book must end with what the chain says, not the fill taken twice."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        broadcaster = node.settler.broadcaster
        send = broadcaster.send_async

        async def slow_send(*args: Any) -> Any:  # (as ``send_async`` is called: every argument)
            receipt = await send(*args)  # Hardhat mines it on the send
            # The receipt comes once the watcher, tired of waiting for it, applied its
            # block itself.
            if receipt is not None:
                await wait_for(
                    lambda: (
                        (h := node.mirror.head) is not None and h.number >= receipt.block_number
                    ),
                    timeout=30,
                )
            return receipt

        broadcaster.send_async = slow_send  # type: ignore[method-assign]
        resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6))
        assert (await api.post_taken(resting))[0] == 201
        before, applied = spendable_of(c, DAVE), node.mirror.own_applied
        assert (await api.post_taken(c.sign(bid(c, BOB, E18 // 10, 300 * E6))))[0] == 201
        await wait_for(lambda: node.settler.settled == 1, timeout=40)
        await synced(node, c)
        assert node.mirror.own_applied == applied  # (the watcher read that block itself)
        dave = c.address(DAVE)
        assert spendable_of(c, DAVE) == before - E18 // 10
        assert node.book.funds(dave, c.weth.address) == before - E18 // 10


async def test_a_maker_paid_by_the_nodes_own_settlement_sells_what_it_received_at_once(
    chain: Chain, tmp_path: Path
) -> None:
    """Bob's bid is settled (he receives WETH) while the watcher is a block behind; his first
    ask selling WETH then rests with his funds as the chain has them: only the accounts
    that paid in that settlement wait for its block, not those that received."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.caught_up.is_set())
        assert (await api.post_taken(c.sign(ask(c, DAVE, E18 // 10, 300 * E6))))[0] == 201
        hold = HoldBlock(node)
        salt = c.exchange.min_valid_salt(c.address(DAVE)) + 1
        await hold.inside(c.exchange.cancel_orders_up_to(c.sender(DAVE), salt).block_number)
        assert (await api.post_taken(c.sign(bid(c, BOB, E18 // 10, 300 * E6))))[0] == 201
        await wait_for(lambda: node.settler.settled == 1, timeout=20)
        sell = c.sign(ask(c, BOB, E18 // 10, 320 * E6))
        code, body = await api.post_taken(sell)
        assert code == 201 and body["metaData"]["status"] == "open", body
        assert node.book.funds(c.address(BOB), c.weth.address) == spendable_of(c, BOB)
        assert node.mirror.ahead()[1]  # (the settlement's block is still ahead: Dave paid)
        hold.release()
        await synced(node, c)
        assert node.book.funds(c.address(BOB), c.weth.address) == spendable_of(c, BOB)


def test_a_receipt_of_another_block_at_a_height_the_mirror_passed_is_orphaned(
    chain: Chain,
) -> None:
    """A receipt that comes after the mirror passed its height, for a block the mirror does
    not have there (the chain moved between the two answers): its orders are re-judged
    with the next block the mirror applies; one of the mirror's own block is not."""
    c = chain
    resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6))
    receipt = c.exchange.fill_order(c.sender(BOB), resting, 300 * E6)
    fills = c.exchange.fills(receipt.logs)
    n = receipt.block_number
    for ours in (False, True):
        m = Mirror(c.exchange, [c.weth.address, c.usdc.address])
        at_n = Header(n, receipt.block_hash if ours else "0x" + "ab" * 32, "0x" + "aa" * 32, 1)
        m.apply(at_n, [], at_n)
        m.note_receipt(receipt, fills)
        assert not m.own  # (not kept: the mirror is past its height)
        nxt = Header(n + 1, "0x" + "cd" * 32, at_n.hash, 2)
        orphaned = m.apply(nxt, [], nxt).orphaned
        assert orphaned == (set() if ours else {resting.hash}), ours


def test_an_own_receipt_of_a_higher_block_is_not_counted_again_once_its_fill_is_applied(
    chain: Chain,
) -> None:
    """review76: a settlement's receipt says block n + 1 (read before a reorg moved it, or
    from a backend on another branch), the chain the mirror follows has it at n. Once the
    mirror applied n (the fill in its logs), the receipt still held ahead counted it again
    in ``filled_ahead`` until the mirror reached n + 1: the node's ``_filled_ahead`` took
    the mirror's filled plus it (the order shown filled twice, taken off the book)."""
    c = chain
    resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6))
    receipt = c.exchange.fill_order(c.sender(BOB), resting, 150 * E6)
    fills = c.exchange.fills(receipt.logs)
    assert fills and fills[0].maker_filled > 0
    n = receipt.block_number
    elsewhere = replace(receipt, block_number=n + 1, block_hash="0x" + "ef" * 32)
    m = Mirror(c.exchange, [c.weth.address, c.usdc.address])
    below = Header(n - 1, "0x" + "aa" * 32, "0x" + "a9" * 32, 1)
    m.apply(below, [], below)
    m.note_receipt(elsewhere, [replace(f, block_number=n + 1) for f in fills])
    assert m.filled_ahead(resting.hash) == fills[0].maker_filled  # (ahead: not applied)
    at_n = Header(n, receipt.block_hash, below.hash, 2)
    m.apply(at_n, receipt.logs, at_n)  # (the chain's logs of block n: the fill is there)
    assert m.marks.filled[resting.hash] == fills[0].maker_filled
    assert not m.filled_ahead(resting.hash)  # (counted once: in the mirror's filled)
    assert resting.hash not in m.ahead()[0]
