"""review92 (fee90's named gap): a restart's catch-up counts EIP-1559's steps from the saved
head's fee up to the chain's head as the start's ``eth_blockNumber`` said it
(``HeadSignal.start_head``, set by ``Watcher.check_head``), and that answer is believed up to
``CATCH_UP_BLOCKS`` (10,000) past the saved head (past it the start does not resume). Ten
thousand steps of an eighth each reach the ceiling (``--max-base-fee``, 100,000 gwei) from
any fee after ~200: one endpoint that lies once at the start (its head 10,000 blocks on) and
then says the latest block is that one, at the ceiling's fee, is signed with while the node
catches up, on a chain whose fee is ~1 gwei.

A fix needs the start head's number bounded by something the endpoint cannot make up alone:
e.g. by the time since the saved head's timestamp at the chain's block rate (a devnet's
``hardhat_mine`` runs its timestamps ahead of the wall clock, so not the wall clock alone),
or by the start head's block read by number and proven to descend from the saved head
(costly over 10,000 blocks), or by counting the steps only up to the blocks the mirror has
read (fee90's honest rise while down then waits for the catch-up). fee92: the steps count
only up to a start head proven by its own block, read by number beside the settler's read
(``Fees._read``, ``CatchUp.prove_start``): a sealed header of that number, its timestamp at
least a second a block past the saved head's. (A forged sealed header answered to that
second request still passed.) fee93: the steps count only up to the blocks the mirror read
(``CatchUp._catching_up``); the start's head is no bound at all (the proof removed; a forged
sealed header at a start: ``tests/test_fee93_walked_fee.py``).

Real Hardhat, the node's ``HeadSignal`` as the start sets it and its settler's ``Fees``,
reading through a real loopback proxy (``tests.test_bounds84_base_fee.fee_lying``)."""

from __future__ import annotations

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.chain.tx import MAX_BASE_FEE, fees_for
from sdex.errors import ChainError
from sdex.settlement.gas import Fees
from sdex.watch.watcher import CATCH_UP_BLOCKS
from tests.conftest import Chain
from tests.replacedrow import base_fee_kept
from tests.test_bounds84_base_fee import Lying, fee_lying
from tests.test_fee90_restart_fee_bound import OLD, _block, _fee


async def test_a_start_head_lied_far_ahead_never_signs_the_ceiling(chain: Chain) -> None:
    """The saved head proven (its fee ~1 gwei, read as placed: ``check_head``), the start's
    ``eth_blockNumber`` said ``CATCH_UP_BLOCKS`` past it (the most a start resumes at), the
    settler's read of the latest block said to be that block at the ceiling's fee: refused
    (main: signed with, ``fees_for(MAX_BASE_FEE)``)."""
    c = chain
    with base_fee_kept(c):
        c.rpc.call("hardhat_mine", hex(OLD))
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(10**9))
        c.rpc.call("evm_mine")
        deploy = _block(c, c.deployment.deploy_block)
        saved = _block(c, "latest")
        saved_number = int(str(saved["number"]), 16)
        heads = HeadSignal(lambda: saved_number)  # (the mirror's head: the saved one)
        assert heads.read(c.deployment.deploy_block, _fee(deploy), placed=True) is None
        heads.syncing = True
        assert heads.read(saved_number, _fee(saved), placed=True) is None  # (check_head's)
        lied = saved_number + CATCH_UP_BLOCKS
        state = Lying(lie=lambda fee, n: MAX_BASE_FEE)
        with fee_lying(c.deployment.rpc, state, number=hex(lied)) as url:
            fees, rpc = Fees(heads), AsyncRpc(url)
            try:
                try:
                    got = await fees.current(rpc)
                except ChainError as e:
                    assert "while it catches up" in str(e), e
                else:  # main: the ceiling, on a chain at ~1 gwei
                    assert got != fees_for(MAX_BASE_FEE), got
                    assert got[0] < 10**12, got
            finally:
                await rpc.close()
        assert state.lies >= 1
        assert _fee(_block(c, "latest")) < 2 * 10**9  # (the chain's own fee stayed ~1 gwei)
