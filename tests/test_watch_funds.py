"""``read_funds`` against the real chain: a revert or an empty answer is 0, any other
error raises (a 0 would be stored as exact and park the owner's orders)."""

from __future__ import annotations

import asyncio

import pytest
from conftest import Chain

from sdex.chain.arpc import AsyncRpc
from sdex.errors import RpcError
from sdex.watch import read_funds


def _read(chain: Chain, accounts: list[tuple[str, str]], block: str = "latest") -> object:
    async def go() -> object:
        rpc = AsyncRpc(chain.rpc.url)
        try:
            return await read_funds(rpc, chain.exchange.address, accounts, block=block)
        finally:
            await rpc.close()

    return asyncio.run(go())


def test_read_funds_reads_balances_and_counts_a_revert_or_no_code_as_zero(chain: Chain) -> None:
    owner = chain.address(0)
    balance = chain.weth.balance_of(owner)
    assert balance > 0
    no_code = "0x" + "11" * 20
    funds = _read(
        chain, [(owner, chain.weth.address), (owner, chain.exchange.address), (owner, no_code)]
    )
    assert isinstance(funds, dict)
    assert funds[(owner, chain.weth.address)][0] == balance
    assert funds[(owner, chain.exchange.address)] == (0, 0)  # reverts: no balanceOf there
    assert funds[(owner, no_code)] == (0, 0)


def test_read_funds_raises_on_an_error_that_is_not_a_revert(chain: Chain) -> None:
    """A block the node cannot answer for (as a pruned node's "missing trie node"): the
    read fails, so the poll is retried; no (0, 0) is returned to be stored as exact."""
    owner = chain.address(0)
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    with pytest.raises(RpcError):
        _read(chain, [(owner, chain.weth.address)], block=hex(head + 1000))
