"""settle80: a send held by a doubt past ``HELD_SEND_MAX`` gives its nonce back when it can.

held79 cancels a settlement whose send a doubt about the chain's identity held past the bound
(a transfer of nothing at its nonce, ~21k gas), never sending its stale bytes. When it is the
lane's last signature and was never broadcast, nothing waits on its nonce: giving the nonce
back (as revert79's recheck does for a withdrawn order) costs nothing, and its matches are
signed again, judged afresh. When a later transaction of the lane was signed behind it, its
nonce must be taken: the cancel stays. /health counts the one (``settlementsWithheld``) and
the other (``settlementsWithheldCancelled``; held79's cancels were counted nowhere).

Real Hardhat, the node's settler with its own SQLite store, a real proxy on loopback holding
the first send (``tests.test_held79_doubt_settlements.sends_proxy``), and the node's
``ChainDoubt`` raised and proven as the watcher does."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome, batchtx
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import BOUND, WHY, _of, proven, sends_proxy
from tests.test_settlement_fallback import pair, running_settler


@pytest.mark.parametrize("behind", [False, True], ids=["last", "later-signed"])
async def test_a_stale_held_send_is_given_back_when_it_is_the_last(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behind: bool
) -> None:
    """Two batches (``max_batch`` 1): the second signed and queued behind the first's send
    (held at the proxy), then held by a doubt past the bound. ``last``: its nonce is given
    back, never cancelled; its match signed again once the doubt ends and settled (before:
    a transfer of nothing took its nonce, its match failed: failed 3 of 3). ``later-signed``:
    a transfer of the lane's signed at the next nonce behind it while the doubt holds both:
    cancelled at its nonce as before, its match failed, counted against neither order."""
    monkeypatch.setattr(batchtx, "HELD_SEND_MAX", BOUND)
    with sends_proxy(chain.rpc.url) as (url, gate, sent):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path, max_batch=1) as (s, results):
            doubt = ChainDoubt()
            s.async_sends.doubt = lambda: doubt.held
            doubt.changed = s.wake  # (as the node's gate does once a doubt ends)
            operator = s.sender.address
            before = counts(chain, operator)
            first, second = pair(c, 0), pair(c, 1)
            gate.armed.set()
            s.submit([first])
            await wait_for(gate.held.is_set, 30)
            s.submit([second])  # (a full batch waiting: formed at once)
            await wait_for(lambda: s.sent == 2, 30)  # (signed, queued behind the first)
            (tx,) = [h for h, (_, t) in s.signed_views.items() if t.nonce == before[1] + 1]
            doubt.said(WHY)
            nudge = asyncio.ensure_future(s._nudge()) if behind else None  # (next nonce)
            if behind:
                await wait_for(lambda: s.sender.next_nonce == before[1] + 3, 30)
            gate.release.set()
            await wait_for(lambda: counts(chain, operator)[0] > before[0], 30)  # (the first)
            await wait_for(lambda: s.doubt_holds >= 1, 30)  # (the second held)
            loop = asyncio.get_running_loop()
            began = loop.time()
            await wait_for(lambda: loop.time() > began + BOUND + 0.5, 30)  # (past the bound)
            assert counts(chain, operator) == (before[0] + 1,) * 2 and tx not in sent
            proven(doubt)
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 60)
            if nudge is not None:
                async with asyncio.timeout(30):
                    assert await nudge
            assert _of(results, first).outcome is Outcome.SETTLED
            r = _of(results, second)
            assert tx not in sent, "the held settlement was sent"
            assert chain.rpc.call("eth_getTransactionReceipt", tx) is None
            if behind:  # (its nonce waited on by the transfer behind it: cancelled there)
                assert r.outcome is Outcome.FAILED and r.nonce_taken, r
                assert r.reason.startswith("not sent"), r.reason
                assert (s.cancelled, s.withheld_cancels, s.given_back) == (1, 1, 0)
                assert counts(chain, operator) == (before[0] + 3,) * 2  # (+ cancel, transfer)
            else:  # (before: cancelled, a transfer of nothing paid, the match failed)
                assert r.outcome is Outcome.SETTLED, r
                assert (s.cancelled, s.withheld_cancels, s.given_back) == (0, 0, 1)
                assert counts(chain, operator) == (before[0] + 2,) * 2  # (signed again)
