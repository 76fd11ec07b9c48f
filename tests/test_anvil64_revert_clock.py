"""A test leaves the next test on the same chain the clock of the state it reverted to: the
wall clock's (``tests.conftest.reverted``). anvil 1.7's ``evm_revert`` set the chain's clock
back to the reverted-to head's stamp: the next test's blocks were stamped behind the wall
clock by the time since that head (the session's deployment: minutes into a run), while a
node takes the wall clock as the least the chain's time can be. An order expiring a few
blocks on was refused as expired (tests/test_attack50_first_landing.py run after
tests/test_review48_clock_lie.py, the chain 22 s behind). Hardhat keeps the clock. Real
chain."""

from __future__ import annotations

import time

from sdex.devnet import Devnet
from tests.conftest import reverted
from tests.nodeutil import wait_for

AGE = 3
"""Seconds the reverted-to head is old when the next test starts (more than a block's second
and the rounding of a stamp to whole seconds)."""


AHEAD = 100
"""Seconds a test puts the chain's clock ahead (``evm_increaseTime``)."""


def latest_stamp(devnet: Devnet) -> int:
    assert devnet.rpc is not None
    return int(devnet.rpc.call("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


async def test_a_revert_leaves_the_chain_clock_at_the_wall_clocks(devnet: Devnet) -> None:
    with reverted(devnet) as c:
        # the reverted-to head AGE s old (by the wall clock: Hardhat's clock may run ahead of
        # it after the deployment's burst of blocks, each a second past the last)
        old = min(latest_stamp(devnet), time.time()) + AGE
        c.rpc.call("evm_mine")  # (a test's block, taken away with it)
        await wait_for(lambda: time.time() >= old, timeout=AGE + 10)
    with reverted(devnet) as c:  # the next test's first block
        c.rpc.call("evm_mine")
        stamp, wall = latest_stamp(devnet), int(time.time())
        # before: anvil stamped it at the reverted-to head's time, AGE s and more behind
        assert stamp >= wall - 1, (stamp, wall)


def test_a_clock_put_ahead_before_the_snapshot_stays_ahead(devnet: Devnet) -> None:
    """Hardhat restores the clock's offset as it was at the snapshot: the wall clock's alone
    would stamp the next block before its parent (anvil does, after ``evm_setTime``)."""
    with reverted(devnet) as outer:
        outer.rpc.call("evm_increaseTime", AHEAD)
        outer.rpc.call("evm_mine")
        head = latest_stamp(devnet)
        with reverted(devnet) as c:
            c.rpc.call("evm_mine")  # (a test's block, taken away with it)
        outer.rpc.call("evm_mine")
        assert latest_stamp(devnet) >= head
        assert latest_stamp(devnet) >= int(time.time()) + AHEAD - 1
