"""Settlements signed at the operator's or a dev account's next nonces, as a lane signs them,
for the tests of what a restart or a wait does with them (settle82, review82a)."""

from __future__ import annotations

from pathlib import Path

from sdex.chain.rpc import quantity
from sdex.chain.tx import Sender, SignedTx, fees_for
from tests.conftest import Chain
from tests.nodeutil import node_up
from tests.test_node import ALICE, BOB, CAROL, DAVE
from tests.test_node_restart import OPERATOR
from tests.test_settle81_unsettled_restart import count, pair, record, signed_match


async def rows_bob_pays(c: Chain, db: Path) -> tuple[SignedTx, SignedTx]:
    """``db``'s store made (a node started and stopped on it) with two pending rows at the
    operator's next two nonces: BOB's bid resting and ALICE's ask (BOB gets 0.1 WETH), then
    CAROL's bid resting and BOB's ask of that 0.1 WETH; BOB holding no WETH before them."""
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    async with node_up(c, db, None, OPERATOR):
        pass  # (the store made, the node stopped)
    held = c.weth.balance_of(c.address(BOB))
    if held:  # (BOB holds no WETH: he sells in the second row what the first buys him)
        c.weth.transfer(c.sender(BOB), c.address(DAVE), held)
    first = pair(c, BOB, ALICE, price)  # (BOB's bid resting, ALICE's ask: BOB gets 0.1 WETH)
    second = pair(c, CAROL, BOB, price)  # (CAROL's bid resting, BOB's ask of that 0.1 WETH)
    at = count(c)
    one, two = signed_match(c, [first], at), signed_match(c, [second], at + 1)
    record(db, one, [first])
    record(db, two, [second])
    return one, two


def paused_at_nonce(c: Chain, key: int) -> tuple[Sender, int, tuple[int, int], SignedTx]:
    """Mining paused; dev account ``key``'s sender, its next nonce, fees for the latest block,
    and ``ours``: a call of one byte to account 1 signed at that nonce (not sent)."""
    c.rpc.call("evm_setAutomine", False)
    sender = c.sender(key)
    nonce = quantity(c.rpc.call("eth_getTransactionCount", sender.address, "pending"))
    block = c.rpc.call("eth_getBlockByNumber", "latest", False)
    fees = fees_for(int(block.get("baseFeePerGas", "0x0"), 16))
    ours = sender.sign_at(nonce, c.address(1), b"\x01", 30_000, fees=fees)
    return sender, nonce, fees, ours
