"""A test that raised the chain's base fee leaves the next test on the same chain the fee
of the state it reverted to (``tests.conftest.reverted``). anvil 1.7 kept the next
block's base fee of the blocks ``evm_revert`` took away: with ``--engine anvil -n 2``,
9 settlement tests that ran after tests/test_settle_fees_heads.py on the same anvil had
their transactions refused ("max fee per gas less than block base fee"). Real chain."""

from __future__ import annotations

from sdex.devnet import Devnet
from tests.conftest import reverted

GWEI = 1_000_000_000


def base_fee(block: dict[str, str]) -> int:
    return int(block["baseFeePerGas"], 16)


def test_a_raised_base_fee_is_not_left_to_the_next_test(devnet: Devnet) -> None:
    with reverted(devnet) as c:
        latest = c.rpc.call("eth_getBlockByNumber", "latest", False)
        c.rpc.call("evm_mine")  # (the block the deployed state has next)
        expected = base_fee(c.rpc.call("eth_getBlockByNumber", "latest", False))
    with reverted(devnet) as c:  # a test that raises the base fee
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(100 * GWEI))
        c.rpc.call("evm_mine")
        assert base_fee(c.rpc.call("eth_getBlockByNumber", "latest", False)) == 100 * GWEI
    with reverted(devnet) as c:  # the next one signs with the latest block's fee
        assert c.rpc.call("eth_getBlockByNumber", "latest", False) == latest
        receipt = c.sender(1).transact(c.address(2), b"", 21_000)
        block = c.rpc.call("eth_getBlockByNumber", hex(receipt.block_number), False)
        assert base_fee(block) == expected
