"""held79: a doubt about the chain's identity neither counts a settlement lost nor lets a held
send go out stale.

doubt78 and keep78 held the lane's sends while the chain's identity is in doubt
(``sdex.mirror.doubt``); two gaps were left. A settlement's wait judged it lost
(``receipts._judged``: the sender's count past its nonce, no receipt, twice) before it asked
whether the chain was in doubt: the answers of another chain counted a sound settlement lost,
its orders matched again (a second settlement, paid, if both landed). And a send held through
a doubt went out when it ended however long it lasted, even when an order of it had been
soft-cancelled meanwhile. Now a wait judges nothing in a doubt, and a held send past
``HELD_SEND_MAX`` (or one whose order was cancelled before its send) is cancelled at its nonce
instead (a transfer of nothing: ``BatchTx._withheld``), never sent. Real Hardhat, the node's
settler with its own SQLite store, real proxies on loopback (``tests.rpcfault``), and the
node's ``ChainDoubt`` raised and proven as the watcher does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.keccak import keccak
from sdex.matching.match import Match
from sdex.mirror.doubt import AGREE, ChainDoubt
from sdex.settlement import Outcome, SettledMatch, batchtx, signing
from sdex.settlement.settler import Settler
from sdex.settlement.take import WITHDRAWN_WHY
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import (
    HOLD,
    OTHER_COUNT,
    Answer,
    Gate,
    _proxy,
    other_chain_proxy,
    raw_sends,
)
from tests.test_count77_lied_count import counts
from tests.test_settlement_fallback import pair, running_settler

WHY = "deployment block 1: the chain answered 0xcd.., then ours"
"""The doubt the tests raise (as the watcher's ``ChainDoubt.said`` would)."""
BOUND = 2.0
"""Seconds a send may be held in a doubt and still go (``HELD_SEND_MAX``, shortened)."""


def proven(doubt: ChainDoubt) -> None:
    """The doubt ended as the watcher ends one: ``AGREE`` polls on our chain in a row."""
    for _ in range(AGREE):
        doubt.through()
    assert not doubt.held


def doubt_gating(s: Settler, wake: bool = True) -> ChainDoubt:
    """A chain doubt (as the watcher's) that holds ``s``'s sends while it stands; ``wake``:
    ``s`` woken as it changes (as the node's gate does once a doubt ends)."""
    doubt = ChainDoubt()
    s.async_sends.doubt = lambda: doubt.held
    if wake:
        doubt.changed = s.wake
    return doubt


def mine_pool(c: Chain) -> None:
    """Automine again, and a block mined with the pool (anvil mines none on the switch)."""
    c.rpc.call("evm_setAutomine", True)
    c.rpc.call("evm_mine")


async def test_a_pooled_settlement_is_not_counted_lost_in_a_doubt(
    chain: Chain, tmp_path: Path
) -> None:
    """A settlement pooled (mining paused); the chain's identity comes in doubt and the
    endpoint answers as another chain's backend (the operator's count past its nonce, no
    receipt, no transaction). Its wait judges nothing while the doubt stands (before: counted
    lost at its next check, its matches failed: failed 3 of 3); once the doubt ends and the
    chain mines its pool, it settles."""
    with other_chain_proxy(chain.rpc.url) as (url, other, told):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            doubt = doubt_gating(s, wake=False)
            operator = s.sender.address
            before = counts(chain, operator)
            chain.rpc.call("evm_setAutomine", False)
            try:
                s.submit([pair(c, 0)])
                await wait_for(lambda: s.sent == 1 and not s.sends, 30)
                assert counts(chain, operator) == (before[0], before[1] + 1)  # (pooled)
                doubt.said(WHY)
                other.set()
                first = s.keep_holds
                # (before held79 no check counted a hold: it was lost at the second answer)
                await wait_for(lambda: bool(results) or s.keep_holds >= first + 3, 60)
                assert results == [], results
                assert told[0] > 0  # (the receipt asks met the other chain's answers)
                other.clear()
                proven(doubt)
            finally:
                mine_pool(chain)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert s.lost == 0 and counts(chain, operator) == (before[0] + 1,) * 2


@contextmanager
def sends_proxy(upstream: str) -> Iterator[tuple[str, Gate, list[str]]]:
    """The URL of a proxy to ``upstream`` recording the hash of each raw transaction sent,
    and holding the first send once its gate is armed (``Gate``: its ``held`` then set)
    until released (``HOLD`` at most)."""
    gate = Gate(lambda _: True)
    sent: list[str] = []
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        _, raws = raw_sends(req)
        if not raws:
            return None
        with lock:
            sent.extend("0x" + keccak(bytes.fromhex(r.removeprefix("0x"))).hex() for r in raws)
            caught = gate.armed.is_set() and not gate.held.is_set()
            if caught:
                gate.held.set()
        if caught:
            gate.release.wait(HOLD)
        return None

    with _proxy(upstream, intercept) as url:
        try:
            yield url, gate, sent
        finally:
            gate.release.set()  # (before the server closes: it joins its handlers' threads)


def _of(results: list[SettledMatch], m: Match) -> SettledMatch:
    (r,) = [r for r in results if r.match is m]
    return r


@pytest.mark.parametrize("why", ["cancel", "cancel-no-doubt"])
async def test_a_held_send_is_cancelled_not_sent_when_stale(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    """Two batches (``max_batch`` 1): the second signed and queued behind the first's send
    (held at the proxy). ``cancel``: a short doubt, an order of the second's match
    soft-cancelled in it (its withdrawer says so, as the node's does); ``cancel-no-doubt``:
    the same while it waits its turn, no doubt. Once its turn comes the second is not sent:
    a transfer of nothing takes its nonce, and its match fails, counted against neither
    order (before: sent when the doubt ended, settled: failed 3 of 3 each). One held past
    the bound (held79's ``bound``): ``tests.test_settle80_held_given_back`` (the lane's
    last: its nonce given back since settle80, no longer cancelled)."""
    monkeypatch.setattr(batchtx, "HELD_SEND_MAX", BOUND)
    cancelled: set[bytes] = set()
    with sends_proxy(chain.rpc.url) as (url, gate, sent):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path, max_batch=1) as (s, results):
            doubt = doubt_gating(s)
            s.withdrawn = lambda batch: {
                i: WITHDRAWN_WHY
                for i, m in enumerate(batch)
                if not cancelled.isdisjoint((m.resting.hash, m.incoming.hash))
            }
            operator = s.sender.address
            before = counts(chain, operator)
            first, second = pair(c, 0), pair(c, 1)
            gate.armed.set()
            s.submit([first])
            await wait_for(gate.held.is_set, 30)
            s.submit([second])  # (a full batch waiting: formed at once)
            await wait_for(lambda: s.sent == 2, 30)  # (signed, queued behind the first)
            (tx,) = [h for h, (_, t) in s.signed_views.items() if t.nonce == before[1] + 1]
            if why != "cancel-no-doubt":
                doubt.said(WHY)
            cancelled.add(second.resting.hash)  # (its maker's cancel acknowledged)
            gate.release.set()
            await wait_for(lambda: counts(chain, operator)[0] > before[0], 30)  # (the first)
            if doubt.held:
                await wait_for(lambda: s.doubt_holds >= 1, 30)  # (the second held)
                assert counts(chain, operator) == (before[0] + 1,) * 2 and tx not in sent
                proven(doubt)
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 60)
            assert _of(results, first).outcome is Outcome.SETTLED
            r = _of(results, second)
            assert r.outcome is Outcome.FAILED and r.nonce_taken, r
            assert r.reason.startswith("not sent"), r.reason
            assert tx not in sent, "the held settlement was sent"
            assert chain.rpc.call("eth_getTransactionReceipt", tx) is None
            assert s.cancelled == 1 and counts(chain, operator) == (before[0] + 2,) * 2


def test_the_proxy_answers_as_another_chain(chain: Chain) -> None:
    """``other_chain_proxy`` answers the lane's reads, alone and in a batch, as another
    chain's backend while flipped, and forwards them otherwise."""
    address = chain.address(0)
    with other_chain_proxy(chain.rpc.url) as (url, other, told):
        rpc = Rpc(url)
        honest = rpc.call("eth_getTransactionCount", address, "latest")
        other.set()
        assert int(rpc.call("eth_getTransactionCount", address, "latest"), 16) == OTHER_COUNT
        asks = [("eth_getTransactionReceipt", ["0x" + "11" * 32]), ("eth_blockNumber", [])]
        batch = rpc.batch(asks)
        assert batch[0] is None and isinstance(batch[1], str)
        other.clear()
        assert rpc.call("eth_getTransactionCount", address, "latest") == honest
        assert told[0] == 2


async def test_a_held_send_goes_on_when_the_node_wakes_the_lane(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send held by a doubt (``SigningLane._undoubted``) goes on as soon as the doubt ends
    and the node wakes the settler (``ChainDoubt.changed``: its gate calls
    ``Settler.wake``), not at its next look (``DOUBT_STEP``, made 10 minutes here; before:
    looked at on a timer only, never woken: failed 3 of 3)."""
    monkeypatch.setattr(signing, "DOUBT_STEP", 600.0)
    async with running_settler(chain, tmp_path) as (s, _results):
        doubt = doubt_gating(s)
        doubt.said(WHY)
        waiting = asyncio.ensure_future(s._undoubted("a test's send"))
        try:
            await wait_for(lambda: s.doubt_holds >= 1, 30)
            assert not waiting.done()
            proven(doubt)
            async with asyncio.timeout(30):
                assert await waiting > 0
        finally:
            waiting.cancel()
