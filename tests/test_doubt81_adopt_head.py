"""doubt81: a start in doubt adopts a pooled row without reading the chain's head.

doubt80 made a start in a chain doubt adopt each pending row unread, the block its orders
were loaded at taken from the mirror's head (ours). ``NodeSettlement._adopt`` still asked the
chain behind the URL for its head (``eth_blockNumber``) first, in the doubt: its answer may be
another chain's height, and when the ask failed (an endpoint in doubt is often one that
flaps) no row was adopted: each was given up, marked ``dropped``, its orders free to be
matched again once the chain was proven ours while the previous run's bytes were pooled on
it (both landed: the second a paid revert). Now in a doubt the mirror's head is the bound,
nothing asked. Real chain of the suite's engine, its mining on the send turned off (the
first run's settlement pools), a real ``sdex node`` process killed by its PID, the restart in
this process behind real proxies on loopback: ``flapping_proxy`` answering the saved head's
block with another hash once (the start's check: in doubt) and one failing ``eth_blockNumber``
while ``_adopt`` runs."""

from __future__ import annotations

import json
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
from tests.rpcfault import Answer, _proxy, flapping_proxy
from tests.test_node_restart import OPERATOR
from tests.test_reconcile77_too_high import (
    mined_and_filled,
    pooling,
)
from tests.test_review73_reset_start import _statuses

__all__ = ["pooling"]  # (reconcile77's fixture: the chain mining only when told)


@contextmanager
def head_failing_proxy(upstream: str) -> Iterator[tuple[str, threading.Event, list[int]]]:
    """The URL of a proxy to ``upstream`` that, while its event is set, answers
    ``eth_blockNumber`` (alone) with a JSON-RPC error; and the count of such answers."""
    armed, told = threading.Event(), [0]

    def intercept(req: object) -> Answer | None:
        if not armed.is_set() or not isinstance(req, dict):
            return None
        if req.get("method") != "eth_blockNumber":
            return None
        told[0] += 1
        error = {"code": -32000, "message": "header not found"}
        return 200, json.dumps({"jsonrpc": "2.0", "id": req.get("id"), "error": error}).encode()

    with _proxy(upstream, intercept) as url:
        yield url, armed, told


async def test_a_start_in_doubt_adopts_a_pooled_row_its_head_unread(
    pooling: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run's settlement pooled, the node killed; the restart's check of the saved
    head meets another hash (in doubt), and the chain's head cannot be read while the start
    adopts what the previous run left pooled. The row is adopted, its orders held (before:
    given up, ``dropped``, its orders matched again once the chain was proven ours, both
    settlements mined, the second a paid revert); the doubt ends, the pool is mined, its
    matches settle once."""
    c = pooling
    db = tmp_path / "n.db"
    maker, count, row, head = await pooled_row(c, db, monkeypatch)
    with (
        head_failing_proxy(c.rpc.url) as (hurl, failing, told),
        flapping_proxy(hurl, head, "0x" + "ef" * 32) as (url, flapped),
    ):
        real = core.Node._adopt

        async def head_unread(node: Any, pooled: Any) -> None:
            failing.set()
            try:
                await real(node, pooled)
            finally:
                failing.clear()

        monkeypatch.setattr(core.Node, "_adopt", head_unread)
        cfg = replace(node_config(c, db, operator=OPERATOR), rpc=url)
        async with running_node(cfg) as (node, api):
            s = node.settler
            assert flapped == [1] and node.mirror.doubt.doubts == 1  # (in doubt at the start)
            at_start, adopted = _statuses(db), s.adopted  # (asserted last: both mined before)

            await doubt_ended(node)
            await mined_and_filled(c, node, api, maker, count, timeout=60)
            assert at_start == ["pending"] and adopted == 1, (at_start, adopted, told)
            assert s.sent == 0  # (nothing matched again)
    mined_once(c, db, row, maker)
