"""review93b (fee93's attacker review): the fee floor saved with the mirror's head, a reorg
that removes that head.

A restart whose saved head a reorg replaced undoes the saved blocks to the fork point
(``Mirror.undo_to``). The blocks read back from the store keep no base fee
(``sdex.watch.savedblocks``), so the fork's own fee was unknown, the saved floor (at the
removed head) was dropped with the blocks above the fork, and nothing bounded the next
reads (``HeadSignal.rewound``: ``unbound``, as after a reset): the new branch's first header
read by number was believed at any fee up to the ceiling and signed with, not the 9/8 a
block walked from the floor (fee93's rule). A liar needs only a short branch (one header
past the saved head) to do it; here a real Hardhat reorg with a set fee stands for it.

Real Hardhat (``evm_snapshot``/``evm_revert``), a real node in this process run to the
chain's head, stopped, and started again on its SQLite store behind a real loopback proxy
that records the settlements signed (``tests.rpcfault._proxy``)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import pair_posted, signing_recorded
from tests.test_sign79_feed import until_applied

JUMP = 50_000 * 10**9
"""The new branch's first fee (50,000 gwei, under the ceiling): far past EIP-1559's reach
of the saved floor (1 gwei) over the few blocks of the branch."""


async def test_a_reorg_of_the_saved_head_keeps_the_saved_floor(
    chain: Chain, tmp_path: Path
) -> None:
    """Saved head H (3 blocks past a snapshot F), floor 1 gwei; while the node is down the
    chain reverted to F and 5 blocks mined from a fee of 50,000 gwei. At the restart the
    node undoes to F and reads the new branch: nothing signed above EIP-1559's reach of the
    saved floor (main: the branch's first header believed, the pair signed at ~50,000 gwei)."""
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        await fee_walked_to(c, 10**9)  # (the node's reads believe each block's rise: fee93)
        snap = c.rpc.call("evm_snapshot")
        for _ in range(3):
            c.rpc.call("evm_mine")
        await ran_to_head(c, db)
        assert c.rpc.call("evm_revert", snap) is True
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(JUMP))
        for _ in range(5):  # (longer than the removed branch: a reorg, not a lag)
            c.rpc.call("evm_mine")
        tip = c.rpc.call("eth_getBlockByNumber", "latest", False)
        signed: list[int] = []
        with signing_recorded(c.deployment.rpc, signed) as rpc:
            async with pair_posted(c, db, rpc) as node:
                heads = node.mirror.announced
                await until_applied(node.watcher, tip)  # (the reorg undone, the branch read)
                await wait_for(lambda: bool(signed) or heads.untrusted >= 3, 60)
                assert not signed or max(signed) < 10**12, signed
                floor = heads._floor
                assert floor is None or floor[1] < 10**12, heads.to_json()
