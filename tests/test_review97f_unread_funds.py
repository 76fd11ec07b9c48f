"""review97f: a maker's funds the watcher could not read again after her own settlement's
block do not reach the book as the mirror's old figure, and reach it once a later poll reads
them.

A maker's first order has her funds read at "latest" (intake's ``getOrderStates``: the
mirror's ``unsure``), so her first settlement's block re-reads them rather than moving them
by the amounts (settle98). When that re-read failed (an endpoint missing the state: the
call answered with an error) the mirror kept her funds before the block, and the poll gave
the book that figure all the same (``changes.funds``; and ``_watcher_was_first`` after the
confirm): the book showed her the WETH she had just paid, so her ask was matched again for
funds she no longer had. The next poll read them (``Watcher._unsure``) into the mirror
alone: the book kept the old figure until something else touched her account.

Real Hardhat, a real node in this process, through a loopback proxy that answers the reads of
Carol's balance at a block number with errors while armed."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_node import BOB, CAROL, DAVE, E6, E18, ask, bid
from tests.test_recheck75_unsure_funds import funds_unread
from tests.test_settle98_funds_reread import spendable
from tests.test_settlement_pipeline import post_all


async def test_funds_unread_after_an_own_settlement_keep_the_book_at_the_chain(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    carol = (c.address(CAROL), c.weth.address)
    with funds_unread(c.deployment.rpc, carol[0]) as (url, armed):
        async with running_node(node_config(c, tmp_path / "n.db", rpc=url)) as (node, api):
            await post_all(api, [c.sign(ask(c, CAROL, 2 * E18, 6000 * E6))])
            assert carol in node.mirror.unsure  # (read at "latest": re-read at the block)
            before = spendable(c, carol)
            armed.set()
            await post_all(api, [c.sign(bid(c, BOB, E18, 3000 * E6))])
            await wait_for(lambda: node.settler.settled == 1, timeout=60)
            w = node.watcher
            await wait_for(lambda: carol in w._unsure, timeout=60)  # (its re-read failed)
            mined = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: w.unapplied.applied >= mined, timeout=60)
            after = spendable(c, carol)
            assert after == before - E18
            assert node.mirror.spendable(carol) == before  # (the mirror's old figure)
            # the book: what the settlement left her (before: the mirror's old figure)
            assert node.book.funds(*carol) == after
            armed.clear()
            c.rpc.call("evm_mine")  # (the next poll reads her funds again)
            await wait_for(lambda: carol not in w._unsure, timeout=60)
            await wait_for(lambda: w.unapplied.applied >= mined + 1, timeout=60)
            assert node.mirror.spendable(carol) == after
            assert node.book.funds(*carol) == after


async def test_funds_read_by_a_later_poll_reach_the_book(chain: Chain, tmp_path: Path) -> None:
    c = chain
    carol = (c.address(CAROL), c.weth.address)
    with funds_unread(c.deployment.rpc, carol[0]) as (url, armed):
        async with running_node(node_config(c, tmp_path / "n.db", rpc=url)) as (node, api):
            await post_all(api, [c.sign(ask(c, CAROL, 2 * E18, 6000 * E6))])
            c.rpc.call("evm_mine")  # (her funds read at a block: exact, moved by amounts)
            w = node.watcher
            mined = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: w.unapplied.applied >= mined, timeout=60)
            armed.set()
            c.weth.transfer(c.sender(CAROL), c.address(DAVE), c.weth.balance_of(carol[0]) - E18)
            await wait_for(lambda: carol in w._unsure, timeout=60)  # (its re-read failed)
            armed.clear()
            c.rpc.call("evm_mine")  # (the next poll reads her funds again)
            await wait_for(lambda: carol not in w._unsure, timeout=60)
            mined = int(c.rpc.call("eth_blockNumber"), 16)
            await wait_for(lambda: w.unapplied.applied >= mined, timeout=60)
            assert node.mirror.spendable(carol) == spendable(c, carol) == E18
            # before: the book kept her funds before the transfer (2 WETH of hers matchable)
            assert node.book.funds(*carol) == E18
