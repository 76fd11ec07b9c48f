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
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import WHY, proven, sends_proxy
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
            doubt = ChainDoubt()
            s.async_sends.doubt = lambda: doubt.held
            doubt.changed = s.wake  # (as the node's gate does once a doubt ends)
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
