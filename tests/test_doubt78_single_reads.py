"""doubt78: single chain reads whose one lie costs the operator, read again (count77's rule:
a value outside what the node knows is believed only once a second read, a request of its
own, agrees).

- ``BatchTx.chain_knows``: a send answered "nonce too low" whose bytes the chain took (a
  proxy that tried it again, a balancer's second backend) is the node's own transaction;
  its matches are signed again at the next nonce only when the chain says its count is
  past the nonce and its hash unknown. One such answer (lied, or flapped) was taken: the
  same matches signed again and mined behind the first, a paid revert.
- ``Node._nonce_floor``: the operator's count read at a start, one past which a soft cancel
  names and the lane believes a count (``signed_past``). One answer far too high was
  taken: it stood as what the node signed, so a lied count up to it was believed by the
  lane (count77's bound gone) and every soft cancel named it.

Real Hardhat, the node's settler and a real node with SQLite stores, a real proxy on
loopback lying once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from sdex.chain import Rpc
from sdex.settlement import Outcome
from tests.conftest import Chain, chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_count77_lied_count import counts
from tests.test_review74a_lagging_flap import _forward
from tests.test_settlement_fallback import OPERATOR, pair, running_settler

LIE = 1_000


@dataclass
class Liar:
    """Once ``armed``: the next raw send forwarded (taken) and answered "nonce too low", and
    the next ``lies`` asks of a transaction by hash with the sender's count answered null
    for the hash (a backend that lags the one that took it), the count forwarded."""

    lies: int = 1
    armed: threading.Event = field(default_factory=threading.Event)
    refused: int = 0
    lied: int = 0
    asked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def lying_proxy(upstream: str) -> Iterator[tuple[str, Liar]]:
    liar = Liar()

    def intercept(req: object) -> Answer | None:
        if not liar.armed.is_set():
            return None
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        methods = [c.get("method") for c in calls]
        with liar.lock:
            refuse = "eth_sendRawTransaction" in methods and liar.refused == 0
            knows = methods == ["eth_getTransactionByHash", "eth_getTransactionCount"]
            if knows:
                liar.asked += 1
            lie = knows and liar.refused == 1 and liar.lied < liar.lies
            liar.refused += refuse
            liar.lied += lie
        if not (refuse or lie):
            return None
        status, answer = _forward(upstream, req)  # (taken by the chain, whatever we say)
        answers = answer if isinstance(answer, list) else [answer]
        for call, a in zip(calls, answers, strict=False):
            assert isinstance(a, dict)
            if refuse and call.get("method") == "eth_sendRawTransaction":
                a.pop("result", None)
                a["error"] = {"code": -32000, "message": "nonce too low"}
            if lie and call.get("method") == "eth_getTransactionByHash":
                a["result"] = None
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, liar


async def test_one_answer_that_the_chain_does_not_know_a_taken_send_signs_nothing_again(
    chain: Chain, tmp_path: Path
) -> None:
    """The send is taken and answered "nonce too low"; one ask says its hash unknown and
    the count past it. Before: its matches signed again at the next nonce, mined behind
    it and reverted (failed 3 of 3). Now the second ask finds it: settled once, one nonce."""
    with lying_proxy(chain.rpc.url) as (url, liar):
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            operator = s.sender.address
            before = counts(chain, operator)
            liar.armed.set()
            m = pair(c, 0)
            s.submit([m])
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
            assert liar.refused == 1 and liar.lied == 1, liar
            assert results[0].outcome is Outcome.SETTLED, results[0]
            assert s.nonce_refusals == 0 and liar.asked == 2  # (before: signed again)
            assert counts(chain, operator) == (before[0] + 1,) * 2
            assert chain.exchange.order_info(m.resting.order).filled == m.amounts.left_filled


async def test_a_taken_nonce_said_twice_signs_the_matches_again(
    chain: Chain, tmp_path: Path
) -> None:
    """The rule's other side: both asks say the hash unknown and the count past it (the
    nonce provably another's, as far as two reads tell): signed again at the count, as
    before (the bytes the proxy sent were taken, so the second settlement reverts: the
    price of two lies in a row, as count77's)."""
    with lying_proxy(chain.rpc.url) as (url, liar):
        liar.lies = 2
        c = chain_of(Rpc(url), chain.deployment)
        async with running_settler(c, tmp_path) as (s, results):
            liar.armed.set()
            s.submit([pair(c, 0)])
            await wait_for(lambda: s.idle.is_set() and len(results) == 1, 30)
            assert liar.lied == 2 and s.nonce_refusals == 1, liar


@contextmanager
def count_lying_once(upstream: str, lie: int) -> Iterator[tuple[str, list[int]]]:
    """A proxy answering the first lone ``eth_getTransactionCount`` of "pending" (a node's
    start reads it so: ``Node._nonce_floor``) ``lie`` too high."""
    told = [0]
    lock = threading.Lock()

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, dict) or req.get("method") != "eth_getTransactionCount":
            return None
        if (req.get("params") or [None, None])[1:] != ["pending"]:
            return None
        with lock:
            if told[0]:
                return None
            told[0] += 1
        status, answer = _forward(upstream, req)
        assert isinstance(answer, dict)
        answer["result"] = hex(int(answer["result"], 16) + lie)
        return status, json.dumps(answer).encode()

    with _proxy(upstream, intercept) as url:
        yield url, told


@pytest.mark.parametrize("lie", [LIE, 0], ids=["lied-once", "honest"])
async def test_one_lied_count_at_a_start_is_not_what_the_node_signed(
    chain: Chain, tmp_path: Path, lie: int
) -> None:
    """One answer ``LIE`` too high at a start. Before: ``signed_past`` took it (a soft
    cancel named it, and the lane's bound rose to it: failed 3 of 3). Now it is read again
    and the two differ: neither is taken (as when the chain is unreachable: the lane reads
    its count at its first signature, count77's rule). An honest count, the same twice, is
    taken (chaos66)."""
    c = chain
    cfg = replace(node_config(c, tmp_path / "n.db", operator=OPERATOR), new_heads=False)
    operator = c.address(OPERATOR)
    with count_lying_once(c.rpc.url, lie) as (url, told):
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            _, pending = counts(c, operator)
            assert told == [1]
            named = pending if lie == 0 else None
            assert node.sender.signed_past == named, (node.sender.signed_past, pending)
            assert node.cancel_position()[1] == named
