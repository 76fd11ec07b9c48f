"""fee87: a replacement's and a displacement's read of the latest block took its base fee
bounded by the ceiling alone (``fees_of``): the bound of the lane's own reads (fee86's
``HeadSignal``: EIP-1559's bounds of the last fee read, at a block number this node knows)
was not asked. One lying answer in a stuck settlement's replacement batch (50,000 gwei, under
the ceiling) had it signed again with a fee cap of 100,001 gwei a gas, which the operator
agrees to pay. Now both read it as the lane does (``Fees.of``): not believed, nothing signed;
the next check replaces it at the chain's real fee (which rose: the reason it was stuck).

Real Hardhat, a real node (its mining paused, then blocks at a raised base fee), a loopback
proxy that lies once in the replacement's batch; ``displace`` called as the lane calls it,
against a real pooled transaction through the same kind of proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sdex.chain.arpc import AsyncRpc
from sdex.chain.headsignal import HeadSignal
from sdex.chain.rpc import quantity
from sdex.chain.tx import fees_of
from sdex.errors import ChainError
from sdex.settlement.gas import Fees
from sdex.settlement.stale import displace
from tests import test_bounds84_base_fee as b84
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid
from tests.test_settlement_pooled import at_base_fee, mining

GWEI = 10**9
LIE = 50_000 * GWEI
"""Under ``MAX_BASE_FEE`` (100,000 gwei), thousands of times the chain's fee."""
SPARE = 18
"""A dev account no other test of this file sends from (its pooled transfer displaced)."""


@contextmanager
def lying_in(upstream: str, state: b84.Lying, marker: str) -> Iterator[str]:
    """A proxy to ``upstream`` whose answer for the latest block, in a batch that also asks
    ``marker`` (the replacement's, the displacement's), carries ``state.lie``'s fee while it
    is set; the base fees of the transactions sent through it kept (``state.signed``)."""
    with b84.fee_lying(upstream, state, marker=marker) as url:
        yield url


async def test_one_lying_answer_does_not_raise_a_replacements_fee_cap(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement stuck in the pool under a risen base fee; the first replacement batch's
    latest block says 50,000 gwei. Before: the replacement was signed with it (a cap of
    100,001 gwei a gas). Now that read is not believed; the next check replaces it at the
    chain's fee, and it settles."""
    c = chain
    state = b84.Lying()
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    with lying_in(c.deployment.rpc, state, "eth_getTransactionByHash") as rpc:
        async with b84.polled_node(c, tmp_path, rpc) as (node, api):
            c.rpc.call("evm_setAutomine", False)
            try:
                sell = ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price)
                buy = bid(c, BOB, E18 // 100, price * E6 // 100, salt=price)
                for o in (sell, buy):
                    code, body = await api.post_order(o)
                    assert code == 201, body
                await wait_for(lambda: bool(state.signed), 60)  # (pooled: nothing mines)
                first = state.signed[0]
                risen = 3 * (2 * first + GWEI)  # (past its fee cap: stuck)
                state.lie = lambda fee, n: LIE if n == 0 else fee  # (one lying answer)
                async with mining(c.rpc.url, at_base_fee(risen)):
                    await wait_for(lambda: node.settler.settled >= 1, 90)
            finally:
                c.rpc.call("evm_setAutomine", True)
            assert state.lies >= 1, "no replacement asked"
            assert node.settler.replaced >= 1
            # before: the replacement signed with the lie (50,000 gwei)
            assert max(state.signed) <= 2 * risen, (state.signed, risen)


async def test_a_displacement_does_not_sign_with_a_lying_latest(chain: Chain) -> None:
    """``displace`` (the lane's call: ``SigningLane._count``, ``ReplacingLane._displace``)
    of a transaction the chain holds pooled, the latest block's fee a lie: before, the
    transfer in its place was signed with it; now nothing is sent (``ChainError``), and once
    the answers are sound it is displaced at the chain's fee."""
    c = chain
    sender = c.sender(SPARE)
    block = c.rpc.call("eth_getBlockByNumber", "latest", False)
    number, base = quantity(block["number"]), fees_of(block)[0]
    heads = HeadSignal(lambda: number)  # (the node's: the mirror's head, its fee read)
    heads.read(number, base, placed=True)
    fees = Fees(heads)
    state = b84.Lying(lie=lambda fee, n: LIE)
    c.rpc.call("evm_setAutomine", False)
    try:
        pooled = sender.sign(c.address(2), b"", 21_000, fees=(base, GWEI))
        c.rpc.call("eth_sendRawTransaction", pooled.raw)
        view = (number, block["hash"], 0)
        with lying_in(c.deployment.rpc, state, "eth_getTransactionByHash") as url:
            rpc = AsyncRpc(url)
            try:
                with pytest.raises(ChainError):  # before: displaced, signed with the lie
                    await displace(rpc, rpc, sender, [pooled], view, fees.of)
                assert state.lies >= 1 and state.signed == [], state.signed
                state.lie = None
                done = await displace(rpc, rpc, sender, [pooled], view, fees.of)
            finally:
                await rpc.close()
        assert done == [pooled.tx_hash]
        assert state.signed and max(state.signed) <= 2 * base + GWEI, state.signed
    finally:
        c.rpc.call("evm_setAutomine", True)  # (mines the transfer in its place)
        sender.forget_nonce()
