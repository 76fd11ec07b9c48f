"""A settlement's receipt answered as another chain's, the answer held in flight (adopt79,
doubt80, review81): the set-up of the tests that judge such an answer.

Real Hardhat, the node's settler with its own SQLite store, a real proxy on loopback
answering the settlement's receipt as another chain's while flipped, the node's
``ChainDoubt`` raised and proven as the watcher does."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sdex.chain import Rpc
from sdex.mirror.doubt import ChainDoubt
from sdex.settlement import Outcome, Settler
from tests.conftest import Chain, chain_of
from tests.nodeutil import wait_for
from tests.rpcfault import Answer, _forward, _proxy
from tests.test_count77_lied_count import counts
from tests.test_held79_doubt_settlements import mine_pool
from tests.test_settlement_fallback import pair, running_settler


@contextmanager
def foreign_receipt_proxy(
    upstream: str, template: dict[str, object], gate: threading.Event | None = None
) -> Iterator[tuple[str, threading.Event, list[int]]]:
    """The URL of a proxy to ``upstream`` that, while its event is set, answers every ask
    for a receipt (alone or in a batch) the chain has none of with ``template`` made that
    transaction's, reverted, in a block of another chain; and the count of such answers
    (then of every ask that reached it, each batch one). With ``gate``, such an answer is
    given only once ``gate`` is set (an answer in flight)."""
    flipped, told = threading.Event(), [0, 0]

    def foreign(call: dict[str, object], answer: dict[str, object]) -> dict[str, object]:
        if call.get("method") != "eth_getTransactionReceipt" or answer.get("result") is not None:
            return answer
        tx_hash = str((call.get("params") or [""])[0])  # type: ignore[index]
        told[0] += 1
        got = dict(template, transactionHash=tx_hash, status="0x0", blockHash="0x" + "ab" * 32)
        return dict(answer, result=got)

    def intercept(req: object) -> Answer | None:
        told[1] += 1
        if not flipped.is_set():
            return None
        status, body = _forward(upstream, req)
        answer = json.loads(body)
        if isinstance(req, list):
            by_id = {c.get("id"): c for c in req if isinstance(c, dict)}
            out = [foreign(by_id.get(a.get("id"), {}), a) for a in answer]
        else:
            out = foreign(req, answer) if isinstance(req, dict) else answer
        if gate is not None and out != answer:
            gate.wait(30)
        return status, json.dumps(out).encode()

    with _proxy(upstream, intercept) as url:
        yield url, flipped, told


async def settled_template(chain: Chain, tmp_path: Path) -> dict[str, object]:
    """A receipt of a settlement mined on ``chain`` (the other chain's answers are made of it)."""
    async with running_settler(chain, tmp_path / "a") as (s, results):
        s.submit([pair(chain, 0)])
        await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
        (tx,) = [r.tx_hash for r in results]
        return dict(chain.rpc.call("eth_getTransactionReceipt", tx))


async def pooled_in_doubt(
    s: Settler, c: Chain, chain: Chain, doubt: ChainDoubt
) -> tuple[str, tuple[int, int]]:
    """``s`` (on ``c``, a proxy to ``chain``) wired to ``doubt``, mining paused and a
    settlement of it pooled; the operator and its counts before it."""
    s.async_sends.doubt = lambda: doubt.held
    doubt.changed = s.wake
    operator = s.sender.address
    before = counts(chain, operator)
    chain.rpc.call("evm_setAutomine", False)
    s.submit([pair(c, 1)])
    await wait_for(lambda: s.sent == 1 and not s.sends, 30)
    assert counts(chain, operator) == (before[0], before[1] + 1)  # (pooled)
    return operator, before


async def answer_held_across(
    chain: Chain,
    tmp_path: Path,
    said: Callable[[ChainDoubt], Callable[[], int]],
    begun: Callable[[ChainDoubt], object],
    meanwhile: Callable[[ChainDoubt], object],
) -> None:
    """A settlement pooled (mining paused), its settler's count of doubts said ``said`` of
    its ``ChainDoubt``; ``begun`` runs, then an ask for its receipt is held in flight,
    answered as another chain's (reverted); ``meanwhile`` runs, then the answer comes. It is
    not taken; the pool mined, it settles."""
    template = await settled_template(chain, tmp_path)
    gate = threading.Event()
    with foreign_receipt_proxy(chain.rpc.url, template, gate) as (url, other, told):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path / "b") as (s, results):
            doubt = ChainDoubt()
            s.said = said(doubt)
            try:
                operator, before = await pooled_in_doubt(s, c, chain, doubt)
                begun(doubt)
                other.set()
                await wait_for(lambda: told[0] > 0, 30)  # (an answer held in flight)
                other.clear()
                meanwhile(doubt)
                asks = told[1]
                gate.set()  # (the held answer given; an ask after it: the answer was judged)
                await wait_for(lambda: bool(results) or told[1] > asks, 30)
                assert results == [], results
            finally:
                gate.set()
                mine_pool(chain)
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 60)
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert counts(chain, operator) == (before[0] + 1,) * 2
