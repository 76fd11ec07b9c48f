"""review86a: bounds84's fee rule takes the block number from the same answer it doubts.

``HeadSignal.doubt`` believes a read fee past EIP-1559's bounds of the last one read only
when a second read agrees; but a read whose block number is more than ``FEE_STEPS`` past
the last read, or below it, is not bounded at all (``within``: "none") and is believed at
once. The number is the answer's own: an endpoint that lies about the fee lies about the
number with it. One answer of block 1 (or of a block far ahead) with a fee fifty thousand
times the chain's is believed and signed with (a fee cap of twice it: the operator agrees
to pay up to that a gas), the same as before bounds84.

Real Hardhat, a real node, a loopback proxy rewriting the latest block's number and fee
(tests/test_bounds84_base_fee.py's, its number rewritten too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sdex.chain.headsignal import HeadSignal
from sdex.node.core import Node
from tests import test_bounds84_base_fee as b84
from tests.conftest import Chain
from tests.nodeutil import Api, wait_for

GWEI = 10**9
LIE = 50_000 * GWEI
"""Under ``MAX_BASE_FEE`` (100,000 gwei), fifty thousand times a devnet's fee."""


@pytest.mark.parametrize(("name", "number"), [("block 1", 1), ("far ahead", 10**6)])
def test_a_jump_with_a_number_of_its_own_is_not_believed_at_once(name: str, number: int) -> None:
    """The table of bounds84 with the number lied too: the jump is believed at once."""
    heads = HeadSignal()
    assert heads.read(100, GWEI) is None
    assert heads.read(number, LIE) is not None, name  # (main: believed, read once)


async def test_a_lied_number_does_not_carry_a_lied_fee(chain: Chain, tmp_path: Path) -> None:
    """Each answer for the latest block says block 1 with a fee of 50,000 gwei: before, the
    settlement was signed with it (a fee cap of 100,000 gwei a gas), read once a block."""
    c = chain
    state = b84.Lying()
    with _number_lying(c.deployment.rpc, state) as rpc:
        async with b84.polled_node(c, tmp_path, rpc) as (node, api):
            await _settled_after_a_lie(c, node, api, state)
            highest = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
            assert state.signed, "nothing sent"
            # main: signed with the lie (a cap of 100,000 gwei), read once
            assert max(state.signed) <= max(highest, GWEI) * 4, (state.signed, highest)


async def _settled_after_a_lie(c: Chain, node: Node, api: Api, state: b84.Lying) -> None:
    """Every answer for the latest block says ``LIE`` while ``posted_pair``'s pair is posted,
    till 12 answers lied or a settlement was sent; then the truth, till one settled."""
    state.lie = lambda fee, n: LIE
    await b84.posted_pair(c, api)
    await wait_for(lambda: state.lies >= 12 or bool(state.signed), 60)
    state.lie = None
    await wait_for(lambda: node.settler.settled >= 1, 90)


@contextmanager
def _number_lying(upstream: str, state: b84.Lying) -> Iterator[str]:
    """``fee_lying``'s proxy, the lied answers' number said to be block 1 too (below the
    last read: not bounded by it)."""
    with b84.fee_lying(upstream, state, number="0x1") as url:
        yield url


async def test_the_same_lie_twice_is_signed_with(chain: Chain, tmp_path: Path) -> None:
    """(The brief's question, answered) An endpoint answering one fee of 50,000 gwei to
    every read of the latest block (the number true): the second read agrees with the
    first, the lie is believed and signed with (a cap of 100,000 gwei a gas). What it cost
    on Hardhat: the chain's own base fee plus the tip (``effectiveGasPrice``); what the
    operator agreed to: ``gas`` x the cap. Fails on main (by bounds84's rule, not a slip).
    Passes since fee86 while the chain stands still: another fee of the block read last is
    never confirmed. Once a block comes, the same lie twice for it is believed still
    (bounds84's design: tests/test_fee86_fee_number.py, "the next block, a lie twice")."""
    c = chain
    state = b84.Lying()
    with b84.fee_lying(c.deployment.rpc, state) as rpc:
        async with b84.polled_node(c, tmp_path, rpc) as (node, api):
            await _settled_after_a_lie(c, node, api, state)
            block = c.rpc.call("eth_getBlockByNumber", "latest", True)
            highest = int(block["baseFeePerGas"], 16)
            assert state.signed, "nothing sent"
            paid = []
            for tx in block["transactions"]:
                r = c.rpc.call("eth_getTransactionReceipt", tx["hash"])
                paid.append((int(r["gasUsed"], 16), int(r["effectiveGasPrice"], 16)))
            print("signed base fees", state.signed, "chain's", highest, "paid", paid)
            assert max(state.signed) <= max(highest, GWEI) * 4, (state.signed, highest, paid)
