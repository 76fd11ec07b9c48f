"""A backlog batch past 63 matches, its gas bound learned from a cheaper earlier batch,
whose last match's token refuses the transfer: the contract's inline attempt runs almost
the whole batch before that match reverts it, then the per-match fallback runs every match
again in a call frame of its own. A slim batch (no room for the fallback) runs out of gas
and goes again at once in batches with the room; the gas those get must cover both: the
refused match alone fails, the others settle (real Hardhat, the node's settler)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from sdex.book.types import Side
from sdex.chain import Token, deploy, load_abi
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.chain.tx import Sender
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.settlement import Outcome, SettledMatch
from sdex.settlement.gas import GAS_PER_MATCH, MAX_TX_GAS, fitting_batch
from sdex.settlement.settler import Settler
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import wait_for

E18, E6 = 10**18, 10**6
OPERATOR = 19
ASKS, BIDS = range(1, 9), range(9, 17)
LOT = E18 // 100  # 0.01 WETH for 30 USDC


def pair(c: Chain, k: int) -> Match:
    """Match ``k``: a new ask of ``LOT`` WETH and a new bid crossing it, their own makers."""
    a, b = ASKS[k % len(ASKS)], BIDS[k % len(BIDS)]
    left = c.sign(c.order(a, c.weth, LOT, c.usdc, 30 * E6))
    right = c.sign(c.order(b, c.usdc, 30 * E6, c.weth, LOT))
    return Match(left, right, MatchAmounts(LOT, 30 * E6, 0, 0), Side.BID)


def refused(c: Chain, bad: Token) -> Match:
    """A match whose bid pays in ``bad``, a token whose ``transferFrom`` returns false."""
    a, b = ASKS[0], BIDS[0]
    left = c.sign(c.order(a, c.weth, LOT, bad, 30 * E18))
    right = c.sign(c.order(b, bad, 30 * E18, c.weth, LOT))
    return Match(left, right, MatchAmounts(LOT, 30 * E18, 0, 0), Side.BID)


@contextlib.asynccontextmanager
async def running_settler(
    c: Chain,
    tmp_path: Path,
    suspect: Callable[[Match], bool] | None = None,
    max_batch: int = 64,
    cap: int = MAX_TX_GAS,
    rpc_timeout: float = 30.0,
) -> AsyncIterator[tuple[Settler, list[SettledMatch]]]:
    """The node's settler (async receipts, ``max_batch``, backlog_batch 256, ``cap`` gas at
    most a transaction: a small one shows the same splits with far fewer matches;
    ``rpc_timeout`` the receipts client's) on the devnet, with its own store; yields it and
    the results it reported."""
    block = c.rpc.call("eth_getBlockByNumber", hex(c.deployment.deploy_block), False)
    identity = ChainIdentity(c.deployment.chain_id, c.deployment.exchange, block["hash"])
    store = Store(tmp_path / "s.db", identity, c.domain)
    settle_chain = ChainThread(c.rpc.url, c.deployment.exchange, "test-settle")
    receipts = AsyncRpc(c.rpc.url, rpc_timeout)
    results: list[SettledMatch] = []

    async def on_result(batch: list[SettledMatch]) -> None:
        results.extend(batch)

    sender = Sender(settle_chain.rpc, c.keys[OPERATOR], c.deployment.chain_id)
    settler = Settler(
        settle_chain,
        sender,
        store,
        on_result,
        max_batch,
        receipts=receipts,
        backlog_batch=256,
        suspect=suspect,
    )
    settler.gas.cap = cap
    running = asyncio.create_task(settler.run())
    try:
        yield settler, results
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        await receipts.close()
        settle_chain.close()
        store.close()


def false_return_token(c: Chain) -> Token:
    """A token whose ``transferFrom`` returns false, funded and approved for ``BIDS[0]``."""
    bad = Token(c.rpc, deploy(c.sender(0), "FalseReturnToken"))
    bad.abi = load_abi("FalseReturnToken")
    bad.send(c.sender(0), "mint", c.address(BIDS[0]), 1000 * E18)
    bad.send(c.sender(BIDS[0]), "approve", c.deployment.exchange, 2**256 - 1)
    return bad


@pytest.mark.parametrize("suspected", [False, True])
async def test_a_lone_match_is_preflighted_only_when_suspected(
    chain: Chain, tmp_path: Path, suspected: bool
) -> None:
    """A lone match goes with no pre-flight: a refused transfer is mined as a revert (the
    operator pays its gas). One the node suspects (an order of it failed before with no one
    found guilty) is pre-flighted: the same refusal costs no transaction."""
    c = chain
    bad_match = refused(c, false_return_token(c))
    operator = c.address(OPERATOR)
    nonce = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
    async with running_settler(c, tmp_path, lambda m: suspected) as (settler, results):
        settler.submit([bad_match])
        await wait_for(lambda: settler.idle.is_set() and len(results) == 1, timeout=30.0)
    (verdict,) = results
    assert verdict.outcome is Outcome.FAILED
    spent = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16) - nonce
    if suspected:  # the pre-flight's revert reason
        assert "SafeERC20FailedOperation" in verdict.reason, verdict.reason
        assert verdict.tx_hash is None and spent == 0
    else:
        assert verdict.tx_hash is not None and spent == 1
        receipt = c.rpc.call("eth_getTransactionReceipt", verdict.tx_hash)
        assert int(receipt["status"], 16) == 0
    assert c.exchange.order_info(bad_match.resting.order).filled == 0


async def test_a_refused_transfer_at_the_end_of_a_backlog_batch_fails_only_its_match(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    bad = false_return_token(c)
    # (a transaction of at most 6M gas, max_batch 16: the splits of 16M and 64, about a
    # third of the matches)
    cap = 6_000_000
    async with running_settler(c, tmp_path, max_batch=16, cap=cap) as (settler, results):
        # A first batch teaches the gas per match (the makers' balances are warm then).
        settler.submit([pair(c, k) for k in range(16)])
        await wait_for(lambda: settler.idle.is_set() and len(results) == 16, timeout=30.0)
        assert settler.sent == 1 and settler.settled == 16
        learned = settler.gas.seen
        assert learned > 0
        # Then a backlog: the first batch takes as many as the learned gas fits without
        # the fallback's room (slim), past what fits with it, and the refused match is its
        # last (the inline attempt spent the most by then).
        size, safe = settler.batch_size(3 * 16), settler.gas.safe_size()
        backlog = size + 16  # (the rest: one batch)
        assert fitting_batch(GAS_PER_MATCH, cap) < safe < size == settler.batch_size(backlog)
        matches = [pair(c, k) for k in range(16, 16 + backlog - 1)]
        bad_match = refused(c, bad)
        matches.insert(size - 1, bad_match)
        results.clear()
        settler.submit(matches)
        await wait_for(lambda: settler.idle.is_set() and len(results) == backlog, timeout=120.0)
    assert settler.largest_batch == size
    assert settler.lost == 0
    # what the batch that ran the fallback used (the inline attempt and the fallback, about
    # twice a match) taught nothing: a batch with a skipped match is not learned from (the
    # batches that all settled may teach a few gas more: their calldata differs)
    assert learned <= settler.gas.seen < learned * 1.1
    # the slim batch ran out of gas (mined, reverted whole), and went again in two batches
    # with the fallback's room; the rest of the backlog went in one with the room too
    assert settler.gas.slim_out_of_gas == 1 and settler.gas.out_of_gas == 0
    assert settler.sent == 1 + 1 + len(settler.gas.split(size)) + 1
    by_match = {(r.match.resting.hash, r.match.incoming.hash): r for r in results}
    verdict = by_match[(bad_match.resting.hash, bad_match.incoming.hash)]
    assert verdict.outcome is Outcome.FAILED
    assert "SafeERC20FailedOperation" in verdict.reason, verdict.reason
    assert verdict.tx_hash is not None
    receipt = c.rpc.call("eth_getTransactionReceipt", verdict.tx_hash)
    assert int(receipt["status"], 16) == 1  # the fallback had the gas it needed
    assert settler.failed == 1 and settler.settled == 16 + backlog - 1
    for m in matches:
        if m is bad_match:
            continue
        assert by_match[(m.resting.hash, m.incoming.hash)].outcome is Outcome.SETTLED
        for so in (m.resting, m.incoming):
            assert c.exchange.order_info(so.order).filled == so.order.maker_amount
    assert c.exchange.order_info(bad_match.resting.order).filled == 0
    assert bad.balance_of(c.address(BIDS[0])) == 1000 * E18


async def test_a_slim_batch_out_of_gas_goes_again_with_room_and_nothing_fails(
    chain: Chain, tmp_path: Path
) -> None:
    """Receipts taught a bound from cheaper matches than a backlog's (here: set as if they
    had, about half what these cost): the slim batch of 50 runs out of gas and reverts
    whole. Its matches are not judged: they go again at once, in batches with the
    fallback's room (each sized as it goes: the first one's receipt teaches the real figure,
    at which the other 25 fit in two), and all settle; slim batches then stop for a
    while."""
    c = chain
    operator = c.address(OPERATOR)
    nonce = int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16)
    cap = 4_060_000  # (a slim batch of 53 at 75k a match: a quarter of 16M's 212)
    async with running_settler(c, tmp_path, max_batch=16, cap=cap) as (settler, results):
        settler.gas.seen = 50_000  # as if taught by much cheaper matches
        backlog = [pair(c, k) for k in range(50)]
        assert settler.batch_size(len(backlog)) == 50 < 256
        assert settler.gas.safe_size() < 50 and settler.gas.split(50) == [25, 25]
        settler.submit(backlog)
        await wait_for(lambda: settler.idle.is_set() and len(results) == 50, timeout=120.0)
        assert settler.gas.slim_out_of_gas == 1 and settler.gas.out_of_gas == 0
        # (what the first part taught)
        assert fitting_batch(settler.per_match_gas(), cap) < 25
        assert settler.sent == 4 and settler.settled == 50 and settler.failed == 0
        assert {r.outcome for r in results} == {Outcome.SETTLED}
        assert len({r.tx_hash for r in results}) == 3
        assert settler.gas.seen > 50_000  # the batches with room taught the real figure
        assert settler.gas.slim_per_match() is None  # one slim failure in 2 backlog batches
        assert settler.batch_size(50) == settler.gas.safe_size()
    # four transactions mined, in nonce order: the slim one reverted
    assert int(c.rpc.call("eth_getTransactionCount", operator, "latest"), 16) == nonce + 4
    for m in backlog:
        assert c.exchange.order_info(m.resting.order).filled == LOT
