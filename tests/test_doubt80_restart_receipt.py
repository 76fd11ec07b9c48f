"""doubt80: a restart in doubt takes no receipt of a pending row from the chain's answers.

adopt79 made a settlement's wait take no receipt while the chain's identity is in doubt (the
answer may be another chain's: a backend on a replaced chain, or on another branch, behind a
balancer). A start's reads did: ``Reconcile.run``'s first ask, its wait after the send again
(``Reconcile._receipt``) and ``NodeSettlement._adopt``'s (``landed``). Another chain's receipt
of the previous run's pooled settlement, its bytes reverted there, marked the row ``failed``
and freed its orders: matched again once the chain was proven ours, a second settlement,
paid (the pooled one landed too). Now in a doubt no answer of a row is taken: it is adopted,
judged by its wait once the chain is proven ours.

Real chain of the suite's engine, its mining on the send turned off (the first run's
settlement pools), a real ``sdex node`` process killed by its PID, the restart in this
process behind two real proxies on loopback: ``foreign_row_proxy`` answering the row's
receipt as another chain's (reverted, in a block of another hash) from its ``skip``-th ask
on, and ``flapping_proxy`` answering the saved head's block with another hash once (the
start's check: in doubt)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import sdex.node.core as core
from tests.adoptdoubt import doubt_ended, mined_once, pooled_row
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.rpcfault import _answering, _proxy, flapping_proxy
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import (
    mined_and_filled,
    pooling,
)
from tests.test_review73_reset_start import _statuses

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)


def mined_receipt(c: Chain) -> dict[str, Any]:
    """A receipt of a transaction the chain mined (the latest block with one; the suite's
    deployment has some), for ``foreign_row_proxy``'s template."""
    number = int(c.rpc.call("eth_blockNumber"), 16)
    for n in range(number, -1, -1):
        block = c.rpc.call("eth_getBlockByNumber", hex(n), False)
        if block["transactions"]:
            got: dict[str, Any] = c.rpc.call("eth_getTransactionReceipt", block["transactions"][0])
            return got
    raise AssertionError("no transaction mined")


@contextmanager
def foreign_row_proxy(
    upstream: str, tx_hash: str, template: dict[str, Any], skip: int
) -> Iterator[tuple[str, threading.Event, list[int]]]:
    """The URL of a proxy to ``upstream`` that, while its event is set, answers the asks for
    ``tx_hash``'s receipt (alone or in a batch) after the first ``skip`` of them with
    ``template`` made that transaction's, reverted, in a block of another chain; and the
    count of asks for it, then of such answers."""
    flipped, told = threading.Event(), [0, 0]

    def answer(call: object) -> dict[str, object] | None:
        if not flipped.is_set() or not isinstance(call, dict):
            return None
        params = call.get("params") or [""]
        if call.get("method") != "eth_getTransactionReceipt" or str(params[0]) != tx_hash:
            return None
        told[0] += 1
        if told[0] <= skip:
            return None
        told[1] += 1
        got = dict(template, transactionHash=tx_hash, status="0x0", blockHash="0x" + "ab" * 32)
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": got}

    with _proxy(upstream, lambda req: _answering(upstream, req, answer)) as url:
        yield url, flipped, told


@pytest.mark.parametrize("read", ["first", "wait", "adopt"])
async def test_a_restart_in_doubt_takes_no_receipt_of_a_pooled_row(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read: str
) -> None:
    """The first run's settlement pooled, the node killed; the restart's check of the saved
    head meets another hash (in doubt) and the row's receipt is answered as another chain's,
    reverted: at ``read``, reconcile's first ask (``first``), its wait after the send again
    (``wait``), or ``_adopt``'s (``adopt``: once reconcile adopted it). The row is adopted,
    its orders held (before: "failed", its orders matched again once the chain was proven
    ours, both settlements mined, the second a paid revert: failed 3 of 3 for each); the
    doubt ends, the pool is mined, its matches settle once."""
    c = pooling
    db = tmp_path / "n.db"
    template = mined_receipt(c)
    maker, count, row, head = await pooled_row(c, db, monkeypatch)
    with (
        foreign_row_proxy(c.rpc.url, row, template, int(read == "wait")) as (furl, other, _told),
        flapping_proxy(furl, head, "0x" + "ef" * 32) as (url, flapped),
    ):
        real = core.reconcile

        async def then_flipped(lane: Any) -> Any:  # (``adopt``: from ``_adopt``'s read on)
            pooled = await real(lane)
            other.set()
            return pooled

        if read == "adopt":
            monkeypatch.setattr(core, "reconcile", then_flipped)
        else:
            other.set()
        cfg = replace(node_config(c, db, operator=OPERATOR), rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            other.clear()
            assert flapped == [1] and node.mirror.doubt.doubts == 1  # (in doubt at the start)
            at_start, adopted = _statuses(db), s.adopted  # (asserted last: both mined before)

            await doubt_ended(node)
            await mined_and_filled(c, node, api, maker, count, timeout=60)
            assert at_start == ["pending"] and adopted == 1, (at_start, adopted)  # ("failed")
            assert s.sent == 0  # (nothing matched again)
    mined_once(c, db, row, maker)
