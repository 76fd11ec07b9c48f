"""funds98: an own settlement mined only on a reorg's new branch, confirmed while the reorg's
poll still re-reads the funds the undone blocks touched, does not give the book the old
branch's figure of its maker's funds.

``_watcher_was_first`` sets the makers' funds from the mirror after a confirm for a block at
or below the last poll the book took (``_funds_taken_at``: settle98). A reorg undoes blocks
below that mark, and the accounts they touched hold the old branch's figures till re-read
(``Mirror.undo_to``, review98a): with no fork-point mark, a settlement at a height the old
branch had reached was taken as a block the book had taken, and Carol's WETH in the book
became the old branch's figure (the settlement's 1 WETH not paid there): 1 WETH she has
spent was matchable again until the poll's re-read came back.

Real Hardhat: the old branch (Carol sends 1 wei WETH away, one more block) applied, the
settlement signed and pooled with automine off, the chain taken back (``evm_revert``) and the
same raw settlement mined on a longer branch; the node's receipt reads held (a loopback
proxy) until the reorg's poll re-reads funds, those reads held until the match is confirmed."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

from sdex.errors import RpcError
from sdex.node.core import Node
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.reorgfunds import carol_both_sides, held_funds_reads
from tests.test_mirror import revert, synced
from tests.test_node import BOB, CAROL, DAVE, E6, E18, bid
from tests.test_review98a_reorg_own_moves import receipts_held
from tests.test_settle98_funds_reread import head, spendable
from tests.test_settlement_pipeline import post_all


async def test_a_settlement_mined_only_on_the_new_branch_keeps_its_maker_paid(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    with receipts_held(c.deployment.rpc) as (url, receipts):
        async with running_node(node_config(c, tmp_path / "n.db", rpc=url)) as (node, api):
            try:
                await new_branch_only(c, node, api, receipts)
            finally:
                c.rpc.call("evm_setAutomine", True)


async def new_branch_only(c: Chain, node: Node, api: Api, receipts: threading.Event) -> None:
    paid, got, snap, start = await carol_both_sides(c, node, api)  # (her USDC held too)
    # the old branch: Carol's WETH lowered by 1 wei (undone by the reorg), one block more
    c.weth.transfer(c.sender(CAROL), c.address(DAVE), 1)
    c.rpc.call("evm_mine")
    await synced(node, c)
    assert node.mirror.spendable(paid) == spendable(c, paid)
    await wait_for(lambda: node._funds_taken_at == start + 2, timeout=30)

    reads, go_reads, reading = held_funds_reads(node)
    try:
        receipts.set()
        c.rpc.call("evm_setAutomine", False)
        await post_all(api, [c.sign(bid(c, BOB, E18, 3000 * E6))])
        await wait_for(lambda: len(node.settler.in_flight) == 1, timeout=30)
        (tx,) = node.settler.in_flight
        raw = node.settler.signed_views[tx][1].raw
        await wait_for(lambda: c.rpc.call("eth_getTransactionByHash", tx) is not None)
        assert head(c) == start + 2  # (pooled on the old branch, not mined)
        reads.set()
        revert(c, snap)  # (the pool too: as at the snapshot)
        c.rpc.call("evm_setAutomine", True)
        with contextlib.suppress(RpcError):  # (the lane may have sent it again first)
            c.rpc.call("eth_sendRawTransaction", raw)
        mined = c.rpc.call("eth_getTransactionReceipt", tx)
        assert mined is not None and int(mined["blockNumber"], 16) == start + 1, mined
        c.rpc.call("evm_mine")
        c.rpc.call("evm_mine")  # (the new branch the longer: start + 3)
        before = spendable(c, paid)  # (Carol paid 1 WETH, her 1 wei not sent)
        await wait_for(reading.is_set, timeout=60)  # (the reorg's poll re-reads funds)
        assert node.watcher.reorgs == 1
        receipts.clear()  # (confirmed now: the watcher read its block)
        await wait_for(lambda: node.settler.settled == 1, timeout=60)
        assert not go_reads.is_set()  # (the reorg's poll not applied yet)
        assert node.book.funds(*paid) <= before  # (was the old branch's: 1 WETH more)
    finally:
        receipts.clear()
        go_reads.set()
    await synced(node, c)
    for account in (paid, got):
        await wait_for(lambda a=account: node.mirror.spendable(a) == spendable(c, a), timeout=60)  # type: ignore[misc]
        assert node.book.funds(*account) == spendable(c, account)
