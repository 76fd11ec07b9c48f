"""review100b: a funds read the mirror may not trust is read again at the head by the next
poll, not only with the next block: on an idle chain (Hardhat's automine) none came.

1. funds98: a read served on a branch a reorg then undid, answered after the new branch was
   applied, is learned and read again "with the next block" (``Mirror.reread_next``): with
   no block after it, the mirror and the book kept Carol's old branch 1000 WETH (500 on the
   chain) for as long as the chain stood still.
2. A read served before a block that moved Carol's WETH, answered after the watcher applied
   that block: the mirror refuses it (``touched_since``), but intake's order took its figure
   into the book, and nothing read her again (she was not wanted when the block came): the
   book kept her 1000 WETH.
3. A read begun before a chain reset (``Mirror.clear``) and answered after it: ``clear``
   forgot the undone heads, so it was learned as the new chain's (a mirror-level check).

Real Hardhat (``evm_snapshot`` / ``evm_revert``); a real node in this process, the intake's
read answered by the chain at once and handed back after the watcher applied what came."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from sdex.chain import OrderState, OrderStatus
from sdex.mirror import Mirror
from sdex.mirror.blocks import Header
from sdex.node import Node
from tests.conftest import Chain
from tests.intakeread import carol_unread, hold_reads, old_branch
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_mirror import revert, synced
from tests.test_node import CAROL, DAVE, E6, E18, ask
from tests.test_settle98_funds_reread import spendable


async def post_across(node: Node, api: object, c: Chain, meanwhile: Callable[[], None]) -> None:
    """Carol's ask posted, its read served, ``meanwhile`` done on the chain and applied by
    the node, then the read handed back; the order accepted."""
    served, go = hold_reads(node)
    post = api.post_order  # type: ignore[attr-defined]
    posted = asyncio.ensure_future(post(c.sign(ask(c, CAROL, 2 * E18, 6000 * E6))))
    try:
        await wait_for(served.is_set, timeout=30)
        meanwhile()
        await synced(node, c)
    finally:
        go.set()
    code, body = await posted
    assert code == 201, body


async def at_chain(node: Node, c: Chain, carol: tuple[str, str]) -> None:
    """No block mined since: the book and the mirror come to the chain's figure."""
    chain_head = node.watcher.applied
    await wait_for(lambda: node.book.funds(*carol) == spendable(c, carol), timeout=30)
    assert spendable(c, carol) == 500 * E18  # (was her 1000 WETH, till a block came)
    assert node.mirror.spendable(carol) == spendable(c, carol)
    assert node.watcher.applied == chain_head  # (idle: read again at the same head)


async def test_a_read_the_undone_branch_served_is_read_again_on_an_idle_chain(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        carol = await carol_unread(node, c)
        snap = await old_branch(node, c)

        def new_branch() -> None:
            revert(c, snap)
            c.weth.transfer(c.sender(CAROL), c.address(DAVE), 500 * E18)
            c.rpc.call("evm_mine")
            c.rpc.call("evm_mine")  # (longer: the old head + 1)

        await post_across(node, api, c, new_branch)
        assert node.watcher.reorgs == 1
        await at_chain(node, c, carol)


async def test_a_read_a_block_since_made_stale_is_read_again_on_an_idle_chain(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        carol = await carol_unread(node, c)

        def moved() -> None:  # (a block of its own, automined: Carol's WETH sent away)
            c.weth.transfer(c.sender(CAROL), c.address(DAVE), 500 * E18)

        await post_across(node, api, c, moved)
        await at_chain(node, c, carol)


def test_a_read_begun_before_a_reset_is_read_again(chain: Chain) -> None:
    """A read begun at the old chain's block 10, answered after a reset (``Mirror.clear``)
    and the new chain's blocks up to 3 applied, none touching Carol: it may be the old
    chain's figure (another chain's), so it is read again at the head. Before, ``clear``
    forgot the undone heads: learned as the new chain's, not read again till a block came."""
    c = chain
    weth = c.weth.address
    carol = (c.address(CAROL), weth)
    old = OrderState(b"\0" * 32, OrderStatus.FILLABLE, 0, True, 1000 * E18, 1000 * E18)
    m = Mirror(c.exchange, [weth])
    for n in range(11):
        m.apply(header_at(n), [], header_at(n))
    m.clear()
    for n in range(4):  # (the new chain: other hashes)
        h = Header(n, "0x" + f"{n + 99:064x}", "0x" + f"{n + 98:064x}", n)
        m.apply(h, [], h)
    m.learn(c.sign(ask(c, CAROL, 2 * E18, 6000 * E6)), old, 10)
    assert carol in m.reread_next  # (was: learned as the new chain's, not read again)


def header_at(n: int) -> Header:
    return Header(n, "0x" + f"{n:064x}", "0x" + f"{n - 1:064x}", n)
