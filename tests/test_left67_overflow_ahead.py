"""left65's leftover (a): the orders and payers of own-settlement stubs let go past
``MAX_STUBS`` (``OwnReceipts.overflow``) were not "ahead" of the mirror between the let-go and
their block (``Mirror.ahead``), though the node's book already had that settlement's fills
and funds and the mirror did not.

"Ahead" keeps the mirror's older word off what the node confirmed: a block below the
settlement's that judges one of its orders again (here the maker's ``cancelOrdersUpTo`` of
lower salts: every order of the maker is judged again, ``_judge_from_mirror``) or re-reads a
payer's funds (here a transfer to the maker: ``_accounts_from_mirror``). Not ahead, the
mirror's view of the block before the settlement was taken: the node reopened the order its
own settlement had filled (``reopened``, then filled again by the next block), and gave the
maker back, in the book, the tokens the settlement had taken (a book funding the maker's
other orders with tokens it no longer holds).

As left65's test: the node keeps no receipt decoded and no stub (``cap`` and ``stub_cap`` 0,
as the 16,385th stub is let go), and its watcher is held on block h (the maker's transaction)
until the node has confirmed the settlement, mined in a later block. A real node on the
session's Hardhat."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sdex.chain import Receipt
from sdex.model import OrderStatus
from sdex.node.core import Node
from sdex.order import SignedOrder
from sdex.watch import fork
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_left65_overflow_not_reopened import HoldRange
from tests.test_mirror import synced
from tests.test_mirror_ahead import follows, undone_by_a_rewind
from tests.test_mirror_lag import Moves, settled_past_the_watcher
from tests.test_node import BOB, CAROL, DAVE, E6, E18, ask, bid


@contextlib.asynccontextmanager
async def letting_go(
    c: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Node, Api, HoldRange]]:
    """A node that keeps no receipt decoded and no stub (each let go at once), caught up,
    and the hold of its watcher's next block read."""
    hold = HoldRange(monkeypatch)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        node.mirror.own.cap = node.mirror.own.stub_cap = 0
        await wait_for(lambda: node.watcher.caught_up.is_set())
        yield node, api, hold


async def settled_past_a_held_block(
    c: Chain,
    api: Api,
    node: Node,
    hold: HoldRange,
    resting: SignedOrder,
    in_block_h: Callable[[], Receipt],
) -> None:
    """``in_block_h`` mined in block h while the watcher is held reading it; then a taker
    of ``resting`` posted, its settlement (a later block) confirmed from its receipt and its
    stub let go (``overflow``)."""
    hold.armed = True
    receipt = await asyncio.to_thread(in_block_h)
    await asyncio.wait_for(hold.entered.wait(), 20)
    assert hold.start == receipt.block_number
    taker = c.sign(bid(c, BOB, E18 // 10, 300 * E6))
    assert (await api.post_taken(taker))[0] == 201
    await wait_for(lambda: node.settler.settled == 1, timeout=20)
    assert int(c.rpc.call("eth_blockNumber"), 16) > receipt.block_number
    assert resting.hash in node.mirror.own.overflow


async def test_an_overflowed_own_fill_is_not_reopened_by_its_makers_cancel_up_to_below_it(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    async with letting_go(c, tmp_path, monkeypatch) as (node, api, hold):
        low = c.exchange.min_valid_salt(c.address(DAVE))
        resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6, salt=low + 10**9))
        assert (await api.post_taken(resting))[0] == 201
        await synced(node, c)

        def cancel_below() -> Receipt:  # (the resting order's salt stays valid)
            return c.exchange.cancel_orders_up_to(c.sender(DAVE), low + 1)

        await settled_past_a_held_block(c, api, node, hold, resting, cancel_below)
        assert node.records[resting.hash].status is OrderStatus.FILLED

        moves = Moves(node)
        hold.gate.set()  # block h applied (head below the settlement's), then the next
        await synced(node, c)
        await wait_for(lambda: follows(api, node, c, [resting]), timeout=30)
        assert moves.of(resting.hash) == [], moves.seen  # never reopened meanwhile
        assert node.records[resting.hash].status is OrderStatus.FILLED


async def test_an_overflowed_own_settlements_payer_keeps_what_it_paid_off_its_funds(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    async with letting_go(c, tmp_path, monkeypatch) as (node, api, hold):
        resting = c.sign(ask(c, DAVE, E18 // 10, 300 * E6))
        assert (await api.post_taken(resting))[0] == 201
        await synced(node, c)
        dave, weth = c.address(DAVE).lower(), c.weth.address.lower()

        def sent_to_dave() -> Receipt:  # (DAVE's WETH read again with block h)
            return c.weth.transfer(c.sender(CAROL), c.address(DAVE), E18 // 1000)

        await settled_past_a_held_block(c, api, node, hold, resting, sent_to_dave)
        book_funds: list[int] = []  # (what the mirror's word set: ``_mirror_funds``)
        set_funds = node.registry.set_funds

        def noted(maker: str, token: str, amount: int) -> None:
            if (maker.lower(), token.lower()) == (dave, weth):
                book_funds.append(amount)
            set_funds(maker, token, amount)

        node.registry.set_funds = noted  # type: ignore[method-assign]
        hold.gate.set()  # block h applied (head below the settlement's), then the next
        await synced(node, c)
        await wait_for(lambda: follows(api, node, c, [resting]), timeout=30)
        held = c.weth.balance_of(c.address(DAVE))  # (after block h and the settlement)
        assert all(f <= held for f in book_funds), (book_funds, held)


async def test_an_overflowed_own_fill_a_devnet_rewinds_below_is_undone(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """left65's leftover (b): as ``test_mirror_ahead``'s rewind below an own receipt (the
    chain rewound to the watcher's head, nothing mined since), the settlement's stub let go:
    it waited for a block at its height, which an idle devnet never mines. Now it follows the
    chain back as a kept stub does, once the chain has answered below it for
    ``BEHIND_SECONDS``: the order reopened (and, reopened, it may cross its taker again and
    settle anew: ``follows`` takes the chain's word either way)."""
    monkeypatch.setattr(fork, "BEHIND_SECONDS", 1.0)
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db", new_heads=False)) as (node, api):
        node.mirror.own.cap = node.mirror.own.stub_cap = 0
        settled = await settled_past_the_watcher(c, node, api)
        assert settled[2].hash in node.mirror.own.overflow
        (settled_in,) = node.mirror.own.overflow_txs  # (its transaction, let go)
        await undone_by_a_rewind(c, node, api, settled)
        assert not node.mirror.own.overflow and settled[2].hash not in node.mirror.ahead()[0]
        assert settled_in not in node.mirror.own.overflow_txs
