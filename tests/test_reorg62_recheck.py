"""reorg62: an order's filled amount looked at again once its own match is decided
(``_recheck_settled``) must not be lost when the mirror cannot judge it then.

1. A chain reset (a devnet rewound below the node's kept blocks) while the node reads every
   order's state from the chain: a match of an order whose own earlier settlement the reset
   undid lands meanwhile; its confirm counts the undone fill in and closes the order
   ``filled``. The reset's verdicts skip an order with an own receipt ahead of the mirror
   ("that block judges them again"), but that block judges only the book's orders: the
   closed one kept the undone fill for good (chaos61 base, seed 2: a GTC ``filled`` 298.5 on
   node 2, the chain 199).
2. A bitmap order (its state never the mirror's once a fill of its nonce was seen): a fill of
   it undone by a reorg while another match of it is in flight; once that match fails, the
   recheck found no state in the mirror and dropped the order: the book kept the undone fill.

Real Hardhat (``evm_snapshot``/``evm_revert``), a real node and SQLite store."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from sdex.node.core import Node
from sdex.order import SignedOrder, bitmap_salt
from sdex.settlement.outcome import Outcome, SettledMatch
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_chaos60_reorg_in_flight import approved_sell, undone_in_flight
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid


class ResetHold:
    """Stops ``node``'s watcher inside the first reset's block changes, after the mirror was
    read anew from the deployment block and before the node judges its orders (their chain
    reads), until ``release``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.gate, self.entered = asyncio.Event(), asyncio.Event()
        self._moved = node._contract_sigs_moved
        node._contract_sigs_moved = self._held  # type: ignore[method-assign]

    async def _held(self, head: int) -> set[bytes]:
        if self.node.watcher.resets >= 1 and not self.gate.is_set():
            self.entered.set()
            await asyncio.wait_for(self.gate.wait(), 60)
        return await self._moved(head)

    def release(self) -> None:
        self.gate.set()


async def filled_is(api: Api, signed: object, amount: int) -> bool:
    return (await meta(api, signed))["filledMakerAmount"] == str(amount)  # type: ignore[arg-type]


async def closed_during_a_held_reset(
    c: Chain, node: Node, api: Api
) -> tuple[SignedOrder, ResetHold]:
    """Alice's ask rests at ``node``; a third of it settled (an IOC) and then undone by a
    reset that ``node``'s watcher meets and holds (``ResetHold``); meanwhile the rest is
    matched and settled, which the book (still holding the undone third) closes ``filled``.
    Returned with the reset still held (the caller releases the hold)."""
    sell = c.sign(ask(c, ALICE, 3 * E18 // 10, 900 * E6), ALICE)
    await wait_for(node.mirror_ready)
    hold = ResetHold(node)
    assert (await api.post_taken(sell))[0] == 201
    await synced(node, c)
    snap = str(c.rpc.call("evm_snapshot"))
    first = c.sign(bid(c, BOB, E18 // 10, 300 * E6), BOB)
    # settled: a third of `sell` (an IOC: undone by the reset, it never rests again)
    assert (await api.post_taken(first, "ioc"))[0] == 201
    await wait_for(lambda: filled_is(api, sell, E18 // 10), timeout=30)
    c.rpc.call("hardhat_mine", hex(4))
    await synced(node, c)
    assert not node.book.find(sell.hash).pending  # type: ignore[union-attr]
    revert(c, snap)  # the first settlement's block gone, and every kept one: a reset
    c.weth.transfer(c.sender(CAROL), c.address(BOB), 1)  # (another first block)
    c.rpc.call("hardhat_mine", hex(6))
    await asyncio.wait_for(hold.entered.wait(), 30)
    try:
        # the book still has the undone third: the rest of `sell` is two thirds
        second = c.sign(bid(c, CAROL, 2 * E18 // 10, 600 * E6), CAROL)
        code, body = await api.post_taken(second)
        assert code == 201, body
        # settled, confirmed: the undone third and these two make the whole order
        await wait_for(lambda: filled_is(api, sell, 3 * E18 // 10), timeout=30)
        assert (await meta(api, sell))["status"] == "filled"
    except BaseException:
        hold.release()
        raise
    return sell, hold


async def test_an_order_closed_by_its_match_during_a_reset_takes_the_chains_filled_amount(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", reorg_depth=2)) as (node, api):
        sell, hold = await closed_during_a_held_reset(c, node, api)
        hold.release()
        assert node.watcher.resets == 1
        # before: `filled` at the whole 0.3 for good, the chain 0.2 (FILLABLE)
        await takes_the_chains_filled(c, node, api, sell)


async def takes_the_chains_filled(c: Chain, node: Node, api: Api, sell: SignedOrder) -> None:
    """``closed_during_a_held_reset``'s ``sell`` ends with the chain's 0.2, open again."""
    on_chain = c.exchange.order_info(sell.order).filled
    assert on_chain == 2 * E18 // 10
    await synced(node, c)
    await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
    await wait_for(lambda: filled_is(api, sell, on_chain), timeout=20)
    assert (await meta(api, sell))["status"] in ("open", "partially_filled")


async def test_a_bitmap_orders_undone_fill_leaves_the_book_once_its_match_fails(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    sell = approved_sell(c, salt=bitmap_salt(secrets.randbits(64)))
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        m = await undone_in_flight(c, node, api, sell)
        assert node.mirror.state(sell) is None  # (its nonce was touched: the chain's word)
        # the match in flight fails (never sent): nothing of the sell is in flight now
        await node._on_settled(
            [SettledMatch(m, Outcome.FAILED, None, None, "not sent", unsent=True)]
        )

        # before: filled 0.05 for good (the book offered half of what the chain has)
        async def as_the_chain() -> bool:
            e = node.book.find(sell.hash)
            return e is not None and (e.filled, e.pending, e.fillable) == (0, 0, E18 // 10)

        await wait_for(as_the_chain, timeout=10)
        got = await meta(api, sell)
        assert (got["status"], got["filledMakerAmount"]) == ("open", "0")
