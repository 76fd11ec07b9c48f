"""adopt79: a settlement's bytes the chain does not know are not sent again after a long doubt.

held79 bounded a settlement's first send by ``HELD_SEND_MAX``: held longer by a doubt about
the chain's identity, its cancel goes instead. Its wait's sends of its bytes again (the chain
asked does not know them: lost78's ``keep``) had no bound: after a doubt of minutes, bytes
the chain had dropped were sent again as it ended, their matches minutes old (an order of
them maybe soft-cancelled meanwhile). Now a wait whose checks a doubt held past the bound
sends its cancel instead (``NonceLane._keep_alive``); one pooled may land as it is. Real
Hardhat, the node's settler with its own SQLite store, a real proxy on loopback dropping the
settlement's sends (``tests.rpcfault.dropping_proxy``), the node's ``ChainDoubt`` raised and
proven as the watcher does; for a "nonce too high" refusal's resend (``_over_gap``),
doubt78's proxy holding a send (``tests.rpcfault.gated_proxy``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.chainnode import Engine
from sdex.settlement import Outcome, batchtx, lane
from sdex.settlement.receipts import KEEP_EVERY_MAX
from tests.conftest import Chain, chain_of
from tests.droppedsends import dropping_settler
from tests.nodeutil import wait_for
from tests.rpcfault import Gate, gated_proxy
from tests.test_count77_lied_count import counts
from tests.test_doubt78_held_sends import sends, sent_past_the_count
from tests.test_held79_doubt_settlements import BOUND, WHY, doubt_gating, proven
from tests.test_settlement_fallback import pair, running_settler


async def test_bytes_the_chain_dropped_are_not_sent_again_after_a_long_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement whose sends the endpoint drops (the chain never knows it); its wait sends
    its bytes again; a doubt begins and stands past the bound, then the endpoint takes sends
    again and the doubt ends. Its cancel takes the nonce, its bytes are not sent again, its
    match fails counted against neither order (before: its bytes sent as the doubt ended,
    mined, the match settled: failed 3 of 3)."""
    monkeypatch.setattr(lane, "HELD_SEND_MAX", BOUND)
    async with dropping_settler(chain, tmp_path) as d:
        s, results, doubt, operator, before = d.s, d.results, d.doubt, d.operator, d.before
        s.submit([pair(d.c, 0)])
        await wait_for(lambda: len(d.dropped) >= 2, 30)  # (sent, and again by its wait)
        (tx,) = s.in_flight
        doubt.said(WHY)
        first = s.keep_holds
        await wait_for(lambda: s.keep_holds >= first + 1, 30)  # (its checks held)
        loop = asyncio.get_running_loop()
        began = loop.time()
        # (past the bound as the wait counts it: from its first check in the doubt, up to
        # KEEP_EVERY_MAX after the doubt began, not from the first receipt ask that
        # ``keep_holds`` counted; dup80: BOUND + 1 from that ask, a doubt ending just
        # before a check counted 1-2 s, its bytes were sent again and settled: main's
        # failed 3 of 7 runs alone, 2 of 3 of the -n 2 runs with its neighbours)
        past = began + KEEP_EVERY_MAX + BOUND + 1.0
        await wait_for(lambda: loop.time() > past, 30)
        assert results == [] and counts(chain, operator) == before
        await d.cancelled("not sent again (held")
    assert chain.rpc.call("eth_getTransactionReceipt", tx) is None
    assert counts(chain, operator) == (before[0] + 1,) * 2  # (the cancel, at its nonce)


async def test_a_too_high_refusals_resend_held_past_the_bound_is_cancelled(
    chain: Chain, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """doubt78's case: the lane's nonce 2 past the chain's count, its send held at the proxy,
    goes on once the doubt began and is refused "nonce too high"; its resend (``_over_gap``)
    is held by the doubt, here past the bound. Once the doubt ends the nonces below are
    filled and its cancel, not its bytes, takes its nonce; its match fails counted against
    neither order (before: its bytes sent as the doubt ended, mined, settled: failed 3 of
    3)."""
    if engine == "anvil":
        pytest.skip("Hardhat only: anvil queues a transaction past the count, never refuses it")
    monkeypatch.setattr(batchtx, "HELD_SEND_MAX", BOUND)
    gate = Gate(sends)
    with gated_proxy(chain.rpc.url, [gate]) as url:
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            doubt = doubt_gating(s)
            operator = s.sender.address
            before = await sent_past_the_count(chain, c, s, results, gate)
            (tx,) = s.in_flight
            doubt.said(WHY)
            holds = s.doubt_holds
            gate.release.set()
            await wait_for(lambda: s.nonce_refusals >= 1 and s.doubt_holds > holds, 30)
            loop = asyncio.get_running_loop()
            began = loop.time()
            await wait_for(lambda: loop.time() > began + BOUND + 1.0, 30)  # (past the bound)
            assert counts(chain, operator) == before and s.gap_fills == 0
            proven(doubt)
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 60)
            r = results[1]
            assert r.outcome is Outcome.FAILED and r.nonce_taken, r
            assert r.reason.startswith("not sent (held"), r.reason
            assert s.gap_fills == 2 and s.cancelled == 1
    assert chain.rpc.call("eth_getTransactionReceipt", tx) is None
    assert counts(chain, operator) == (before[0] + 3,) * 2  # (two fillers, the cancel)
