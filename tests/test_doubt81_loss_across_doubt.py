"""doubt81: a settlement is not counted lost on two answers a doubt said between.

held79 made a wait judge nothing while the chain's identity is in doubt: a settlement is lost
only once one answer gives the sender's count past its nonce and no receipt, twice
``LOST_RECHECK`` apart (``receipts._judged``). The second answer was taken when no doubt
stood at it, though one had been said and proven since the first (or while the second was in
flight): the two answers may then be two chains', one another chain's (its count past the
nonce, no receipt of ours), and a sound pooled settlement was counted lost, its orders free
to be matched again while its bytes were pooled on ours (both landed: the second a paid
revert). Now a doubt said since the first answer was asked voids the pair: told twice again.
Real Hardhat, the node's settler with its own SQLite store, a real proxy on loopback answering
as another chain's backend and holding its second answer in flight, the node's
``ChainDoubt`` said and proven as the watcher does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sdex.chain import Rpc
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.foreignanswer import pooled_in_doubt
from tests.nodeutil import wait_for
from tests.rpcfault import HOLD, Answer, _answering, _proxy, other_chains
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import WHY, mine_pool, proven
from tests.test_settlement_fallback import running_settler


@contextmanager
def judging_proxy(
    upstream: str, gate: threading.Event
) -> Iterator[tuple[str, threading.Event, list[int]]]:
    """The URL of a proxy to ``upstream`` that, once its event is set, answers as another
    chain's backend (any sender's count ``OTHER_COUNT``, no receipt, no transaction by hash)
    up to its answer to the second loss check's batch (the count with the receipts), which it
    holds until ``gate`` is set, then forwards all; and the count of loss checks since set."""
    flipped, judged = threading.Event(), [0]

    def intercept(req: object) -> Answer | None:
        if not flipped.is_set():
            return None
        check = isinstance(req, list) and any(
            isinstance(c, dict) and c.get("method") == "eth_getTransactionCount" for c in req
        )
        if judged[0] >= 2:  # (ours again from the third check)
            judged[0] += check
            return None
        out = _answering(upstream, req, other_chains)
        if check:
            judged[0] += 1
            if judged[0] == 2:
                gate.wait(HOLD)
        return out

    with _proxy(upstream, intercept) as url:
        yield url, flipped, judged


async def test_two_answers_a_doubt_was_said_between_count_nothing_lost(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement pooled (mining paused); the endpoint answers as another chain's backend,
    no doubt said yet: the first loss check finds its nonce taken, no receipt. The second
    check's answer is held in flight while a doubt is said and proven; then it comes, saying
    the same. The settlement is not counted lost (before: lost, its orders free while its
    bytes were pooled on ours); the endpoint ours from the next check and the pool mined, it
    settles."""
    gate = threading.Event()
    with judging_proxy(chain.rpc.url, gate) as (url, other, judged):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path / "b") as (s, results):
            doubt = ChainDoubt()
            s.said = lambda: doubt.doubts  # (the node's: its mirror's ``ChainDoubt``)
            try:
                operator, before = await pooled_in_doubt(s, c, chain, doubt)
                other.set()
                await wait_for(lambda: judged[0] >= 2, 60)  # (the second answer in flight)
                doubt.said(WHY)
                proven(doubt)
                gate.set()
                await wait_for(lambda: bool(results) or judged[0] >= 4, 60)
                assert s.lost == 0 and results == [], (s.lost, results)
            finally:
                gate.set()
                mine_pool(chain)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert s.lost == 0
            assert counts(chain, operator) == (before[0] + 1,) * 2
