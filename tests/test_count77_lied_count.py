"""count77: the lane believes a pending count past what it signed, or below what it saw
mined, only once a second read agrees.

The lane reads its next nonce from the chain's pending count (``SigningLane._count``). One
answer ``LIE`` too high (a backend that flapped) had it sign its next settlement there: a
chain that queues it (anvil, geth) held it pooled past its count, review77a's cap left the
gap unfilled, and the settlement, counted lost once its receipt wait ended (its matches
re-judged and matched again), was mined whenever the lane's count came to it (the same
match settled twice, or a paid revert). One answer below a nonce the lane saw mined had it
sign at a used nonce ("nonce too low", signed again). Such a count is now read again: an
answer within what the lane knows is taken, the same answer twice is believed (another
sender of the operator's key, a reorg), two that differ prove nothing (``ChainUnproven``:
the batch back unsent, nothing signed). Real anvil behind a loopback proxy answering the
lane's count reads as a script says, the node's settler."""

from __future__ import annotations

from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.countfault import count_proxy
from tests.nodeutil import wait_for
from tests.test_settlement_fallback import OPERATOR, pair, running_settler
from tests.test_settlement_pooled import anvil, anvil_chain  # noqa: F401 (fixtures)

LIE = 1_000


def counts(c: Chain, address: str) -> tuple[int, int]:
    """The operator's (latest, pending) counts, read from the chain itself."""
    latest = int(c.rpc.call("eth_getTransactionCount", address, "latest"), 16)
    return latest, int(c.rpc.call("eth_getTransactionCount", address, "pending"), 16)


def mined_by(c: Chain, address: str, start: int) -> list[tuple[int, int, str, int]]:
    """(block, nonce, to, input length) of ``address``'s transactions mined from ``start``:
    what a count that differs is made of."""
    mined: list[tuple[int, int, str, int]] = []
    for number in range(start, int(c.rpc.call("eth_blockNumber"), 16) + 1):
        block = c.rpc.call("eth_getBlockByNumber", hex(number), True)
        for tx in block["transactions"]:
            if str(tx["from"]).lower() == address.lower():
                nonce = int(tx["nonce"], 16)
                mined.append((number, nonce, str(tx["to"]), len(tx["input"])))
    return mined


@pytest.mark.parametrize(
    ("steps", "settles", "reads"),
    [
        ([LIE], True, 2),  # once too high: read again, the honest count taken
        ([-1], True, 2),  # once below the mined: read again (before: "nonce too low")
        ([LIE, 2 * LIE], False, 2),  # two lies that differ: nothing proven, nothing signed
    ],
    ids=["high-once", "low-once", "high-twice-differing"],
)
async def test_a_count_out_of_the_lanes_bounds_is_read_again(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
    steps: list[object],
    settles: bool,
    reads: int,
) -> None:
    chain = anvil_chain
    number = chain.deployment.deploy_block
    block = chain.rpc.call("eth_getBlockByNumber", hex(number), False)
    view = (number, str(block["hash"]), 0)
    with count_proxy(chain.rpc.url) as (url, script):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            s.async_sends.view = lambda: view
            s.submit([pair(c, 0)])  # (an honest count: signed, mined)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            operator = s.sender.address
            before = counts(chain, operator)
            script.steps = list(steps)
            script.armed.set()
            s.sender.forget_nonce()  # (read again: a failed send's, a reorg's)
            s.submit([pair(c, 1)])
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 30)
            r = results[1]
            assert script.reads == reads, script
            if settles:
                assert r.outcome is Outcome.SETTLED, r  # (before: pooled past the gap)
                assert counts(chain, operator) == (before[0] + 1,) * 2
                assert s.nonce_refusals == 0  # (before, low-once: "nonce too low")
                return
            assert r.outcome is Outcome.FAILED and r.unsent and r.tx_hash is None, r
            assert counts(chain, operator) == before  # (before: one pooled LIE ahead)
            s.submit([pair(c, 2)])  # (the next read honest: signed at the count)
            await wait_for(lambda: s.idle.is_set() and len(results) == 3, 30)
            assert results[2].outcome is Outcome.SETTLED, results[2]
            assert counts(chain, operator) == (before[0] + 1,) * 2


async def test_a_count_past_the_lanes_that_holds_is_believed(
    anvil_chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Another sender of the operator's key took nonces past the lane's (a second process,
    a devnet deployed again under the node): its count, read twice, is believed."""
    chain = anvil_chain
    with count_proxy(chain.rpc.url) as (url, script):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            start = int(chain.rpc.call("eth_blockNumber"), 16)
            s.submit([pair(c, 0)])
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
            other = chain.sender(OPERATOR)  # (the same key, outside the lane)
            other.forget_nonce()  # (its own count of them: read from the chain)
            for _ in range(3):
                tx = other.sign(other.address, b"", 21_000)
                other.broadcast(tx)
            operator = s.sender.address
            latest = tx.nonce + 1  # (the count once the other's are mined: anvil mines
            # each after its send's answer, later on a loaded machine)
            await wait_for(lambda: counts(chain, operator) == (latest, latest), 30)
            assert s.sender.signed_past is not None and latest > s.sender.signed_past
            script.armed.set()
            s.sender.forget_nonce()
            s.submit([pair(c, 1)])
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 30)
            assert results[1].outcome is Outcome.SETTLED, results[1]
            assert script.reads == 2 and s.nonce_refusals == 0
            assert counts(chain, operator) == (latest + 1,) * 2, mined_by(chain, operator, start)
