"""held79: a settlement the chain refused (not for its nonce) is not cancelled over the lane's
next settlement at the same nonce.

A send refused for any reason but its nonce (fees under the base fee, funds for gas short)
leaves its nonce free: the lane forgets its nonce, reads the chain's count again, and signs
its next settlement at that same nonce. The refused one's wait (``poll_receipt``'s ``keep``,
lost78) sent its bytes again at each check and, unknown to the chain for
``UNKNOWN_TIMEOUT``, its cancel (a transfer of nothing at its nonce, its fees over the
refused one's): on a chain that had not mined the next settlement yet, the cancel replaced
it in the pool, and the next settlement's matches were lost to the lane's own cancel (counted
against both orders). Now a wait whose nonce the lane signed another transaction at sends
nothing: that one holds the nonce, and the refused one is lost once it lands. Real Hardhat
(mining paused, as a live chain between blocks), the node's settler with its own SQLite store,
a real proxy on loopback refusing the first settlement's bytes."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.keccak import keccak
from sdex.matching.match import Match
from sdex.settlement import Outcome, receipts
from sdex.settlement.settler import Settler
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _proxy, raw_sends
from tests.test_count77_lied_count import counts
from tests.test_settlement_fallback import pair, running_settler

REFUSAL = {"code": -32000, "message": "max fee per gas less than block base fee"}
"""A refusal not for the nonce: the chain's answer, the transaction never taken."""
UNKNOWN = 2.0
"""``receipts.UNKNOWN_TIMEOUT``, shortened."""


def tx_hash(raw: str) -> str:
    return "0x" + keccak(bytes.fromhex(raw.removeprefix("0x"))).hex()


@contextmanager
def refusing_proxy(chain: Chain) -> Iterator[tuple[Chain, threading.Event, set[str], list[str]]]:
    """``chain`` through a proxy that refuses (``REFUSAL``) every send of the raw
    transactions it refused once: those of the first send after ``refusing`` is set (then
    cleared); with the refused hashes, and the hash of every raw transaction sent."""
    refused: set[str] = set()
    refusing = threading.Event()
    sent: list[str] = []

    def intercept(req: object) -> Answer | None:
        calls, raws = raw_sends(req)
        if not raws:
            return None
        sent.extend(tx_hash(r) for r in raws)
        if refusing.is_set():
            refused.update(tx_hash(r) for r in raws)
            refusing.clear()
        if not refused.intersection(tx_hash(r) for r in raws):
            return None
        out = [{"jsonrpc": "2.0", "id": x.get("id"), "error": REFUSAL} for x in calls]
        return 200, json.dumps(out if isinstance(req, list) else out[0]).encode()

    with _proxy(chain.rpc.url, intercept) as url:
        yield chain_of(Rpc(url), chain.deployment), refusing, refused, sent


async def sent_at_one_nonce(
    s: Settler, refusing: threading.Event, refused: set[str], first: Match, second: Match
) -> None:
    """The first settlement's bytes refused at its send (its wait sends nothing more), then
    the second sent (signed at the same nonce)."""
    refusing.set()
    s.submit([first])
    await wait_for(lambda: len(refused) == 1 and s.sent == 1 and not s.sends, 30)
    s.submit([second])
    await wait_for(lambda: s.sent == 2 and not s.sends, 30)


async def test_a_refused_settlements_cancel_does_not_displace_the_next_at_its_nonce(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first settlement's bytes refused (not for the nonce) at every send; the second,
    signed at the same nonce, pooled (mining paused) while the first's unknown bound passes
    three times: the first's wait sends nothing more, no cancel (before: its cancel replaced
    the second in the pool, the second's matches lost: failed 3 of 3). Once mined, the second
    settles and the first is lost (its nonce taken by the second)."""
    monkeypatch.setattr(receipts, "UNKNOWN_TIMEOUT", UNKNOWN)
    with refusing_proxy(chain) as (c, refusing, refused, sent):
        async with running_settler(c, tmp_path, max_batch=1) as (s, results):
            operator = s.sender.address
            before = counts(chain, operator)
            first, second = pair(c, 0), pair(c, 1)
            chain.rpc.call("evm_setAutomine", False)
            try:
                await sent_at_one_nonce(s, refusing, refused, first, second)
                mark = len(sent)
                nonces = {t.nonce for _, t in s.signed_views.values()}
                assert nonces == {before[1]}, nonces  # (both at the refused one's nonce)
                # the refused one's unknown bound passes (three times) while the second is
                # pooled: before held79 its cancel went at the first
                loop = asyncio.get_running_loop()
                began = loop.time()
                await wait_for(lambda: s.cancelled >= 1 or loop.time() > began + 3 * UNKNOWN, 60)
                (refused_hash,) = refused
                assert s.cancelled == 0 and refused_hash not in sent[mark:]
            finally:
                chain.rpc.call("evm_setAutomine", True)
                chain.rpc.call("evm_mine")
            await wait_for(lambda: s.idle.is_set() and len(results) == 2, 60)
            by = {id(r.match): r for r in results}
            assert by[id(second)].outcome is Outcome.SETTLED, by[id(second)]
            assert by[id(first)].outcome is Outcome.FAILED
            assert counts(chain, operator) == (before[0] + 1,) * 2
