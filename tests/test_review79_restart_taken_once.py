"""review79: a restart gives a pending row up for its nonce taken only when two answers say so.

lost78 keeps a restart's pending row that the chain neither mined nor pools by the answers
it got (a backend that lags did not know it), unless its nonce is taken: one answer
(``receipts.nonce_taken``) giving the operator's count past its nonce with no receipt of it
gave the row up, its orders matched again at the next nonce. The receipt wait believes that
answer only when a second one, half a second later, says it again (anvil counts a nonce
before its receipt; doubt78's rule: a single read whose one lie costs the operator is read
again). One such answer at a restart (lied, flapped, or the row's bytes being mined that
moment) had its matches settled twice: the pooled row and the match made again were both
mined, the second a paid revert. Now the restart reads it again ``LOST_RECHECK`` later.

Real chain of the suite's engine, its mining on the send turned off (the first backend
pools), behind reconcile77's real balancer on loopback whose second backend is a second
Hardhat node (its count 0, the asks by hash meeting it), a real proxy in front lying once
about the operator's count in a batch with the row's receipt; a real ``sdex node`` process
killed by its PID, the restart in this process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.chain import Rpc
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _forward, _proxy, retrying_balancer
from tests.test_node import E18
from tests.test_reconcile77_too_high import (
    lagging,
    mined_and_filled,
    pending_rows,
    pooled_and_killed,
    pooling,
)

__all__ = ["lagging", "pooling"]  # (reconcile77's fixtures: the lagging node, the pooling chain)

LIE = 1_000
"""What the lying answer adds to the operator's count."""


@contextmanager
def lying_once(upstream: str) -> Iterator[tuple[str, threading.Event, list[int]]]:
    """A proxy to ``upstream`` that, once armed, answers the next batch asking for a count
    and a receipt with the count ``LIE`` higher (then disarmed); and how many it lied to."""
    armed, lied = threading.Event(), [0]

    def intercept(req: object) -> Answer | None:
        if not isinstance(req, list) or not armed.is_set():
            return None
        methods = [c.get("method") for c in req if isinstance(c, dict)]
        if "eth_getTransactionCount" not in methods or "eth_getTransactionReceipt" not in methods:
            return None
        armed.clear()
        status, body = _forward(upstream, req)
        answers = json.loads(body)
        at = methods.index("eth_getTransactionCount")
        count = next(a for a in answers if a.get("id") == req[at]["id"])
        count["result"] = hex(int(count["result"], 16) + LIE)
        lied[0] += 1
        return status, json.dumps(answers).encode()

    with _proxy(upstream, intercept) as url:
        yield url, armed, lied


async def test_one_answer_of_a_taken_nonce_at_a_restart_gives_no_row_up(
    pooling: Chain, tmp_path: Path, lagging: Rpc, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = pooling
    db = tmp_path / "n.db"
    with retrying_balancer(c.rpc.url, lagging.url) as (balanced, balancer):
        maker, count = await pooled_and_killed(c, db, balanced)
        assert len(pending_rows(db)) == 1
        balancer.reads, balancer.lagging = True, 10**6  # (the asks by hash: the lagging one)
        monkeypatch.setattr("sdex.settlement.reconcile.RESTART_RECEIPT_WAIT", 1.0)
        with lying_once(balanced) as (url, armed, lied):
            armed.set()  # (the restart's first count with a receipt: LIE past it)
            async with running_node(replace(node_config(c, db), rpc=url)) as (node, api):
                s = node.settler
                assert lied[0] == 1

                def held() -> bool:  # (before: given up, its orders matched again, sent)
                    return (s.adopted == 1 or s.sent == 1) and not s.sends

                await wait_for(held, timeout=20)
                await mined_and_filled(c, node, api, maker, count)
    assert c.exchange.order_info(maker.order).filled == E18
