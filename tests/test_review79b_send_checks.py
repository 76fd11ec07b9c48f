"""review79b: the lead's merge of held79 and revert79 in the lane's broadcast.

A settlement's send now waits twice before it goes: for a doubt about the chain's identity
to end (held79, ``SigningLane._undoubted``), then for the watcher to bring the book to the
chain's head and its matches to be looked at again (revert79, ``BatchTx._recheck``). Two
gaps of the merge. A doubt that began in the second wait (the watcher's poll that the send's
head ask sets off is the one that finds another chain) no longer held the send: it went out
in the doubt. And a settlement signed at the nonce of one the chain refused (not for its
nonce: ``superseded``, that one's wait sends nothing more) was given back when an order of
it closed before its send: nothing took the nonce, and the refused one's matches waited for
it with no bound (their orders neither settled nor matched again). Real Hardhat, the node's
settler with its own SQLite store, real proxies on loopback (``tests.rpcfault``), the node's
``ChainDoubt`` raised and proven as the watcher does."""

from __future__ import annotations

from pathlib import Path

from sdex.chain import Rpc
from sdex.matching.match import Match
from sdex.settlement import Outcome
from sdex.settlement.take import WITHDRAWN_WHY
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import WHY, doubt_gating, proven, sends_proxy
from tests.test_held79_refused_nonce import refusing_proxy
from tests.test_settlement_fallback import pair, running_settler


async def test_a_doubt_begun_in_the_sends_recheck_holds_the_send(
    chain: Chain, tmp_path: Path
) -> None:
    """A lone match's send: the chain's identity comes in doubt while its recheck waits for
    the watcher (``presend``: the watcher's ``before_send``, whose head ask sets off the poll
    that finds another chain's answer). Nothing is sent while the doubt stands (before: sent
    in the doubt, its wait held only afterwards: failed 3 of 3); once it ends, the settlement
    goes and settles."""
    with sends_proxy(chain.rpc.url) as (url, _gate, sent):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            doubt = doubt_gating(s)
            looks: list[bool] = []

            async def presend() -> None:  # (the watcher's poll finds the doubt meanwhile)
                if not looks:
                    doubt.said(WHY)
                looks.append(bool(doubt.held))

            s.presend = presend
            operator = s.sender.address
            before = counts(chain, operator)
            s.submit([pair(c, 0)])
            await wait_for(lambda: s.doubt_holds >= 1 or bool(sent), 30)
            assert sent == [], "the settlement was sent in the doubt"
            assert counts(chain, operator) == before
            proven(doubt)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert len(set(sent)) == 1 and looks[-1] is False  # (looked at again after it)
            assert counts(chain, operator) == (before[0] + 1,) * 2


async def test_a_withdrawn_settlement_over_a_refused_ones_nonce_takes_it(
    chain: Chain, tmp_path: Path
) -> None:
    """The first settlement's bytes refused (not for its nonce) at every send; the second is
    signed at the same nonce (the first's wait sends nothing more: ``superseded``), and an
    order of it closes before its send (its recheck). It is cancelled at that nonce, not
    given back: the first is then lost (its nonce taken) and reported, its orders free
    again (before: the nonce given back, nothing took it, the first's matches never
    reported: failed 3 of 3)."""
    with refusing_proxy(chain) as (c, refusing, refused, _):
        async with running_settler(c, tmp_path, max_batch=1) as (s, results):
            operator = s.sender.address
            before = counts(chain, operator)
            first, second = pair(c, 0), pair(c, 1)
            closed: set[bytes] = set()

            def withdrawn(batch: list[Match]) -> dict[int, str]:
                hashes = [(m.resting.hash, m.incoming.hash) for m in batch]
                return {i: WITHDRAWN_WHY for i, h in enumerate(hashes) if closed & set(h)}

            async def presend() -> None:  # (a block closing the second's ask, since applied)
                closed.add(second.resting.hash)

            s.withdrawn = withdrawn
            refusing.set()
            s.submit([first])
            await wait_for(lambda: len(refused) == 1 and s.sent == 1 and not s.sends, 30)
            s.presend = presend
            s.submit([second])
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 45)
            by = {id(r.match): r for r in results}
            assert by[id(first)].outcome is Outcome.FAILED, by[id(first)]
            assert by[id(second)].outcome is Outcome.FAILED, by[id(second)]
            assert counts(chain, operator) == (before[0] + 1,) * 2  # (the second's cancel)
