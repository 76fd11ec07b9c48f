"""recheck83: a chain read of the orders due a recheck that fails each time backs off.

Orders due a recheck whose state the mirror lacks wait for the chain's word
(``NodeVerdicts._read_rechecks``). While that read failed each time (an endpoint refusing
``getOrderStates``, a hung chain), every new head read them again and walked the whole list
(``_drain_rechecks``: ~150 ms CPU for 50,000, each head). Now a failed read lets the next
1, 3, 7... chances pass (``READ_BACKOFF_MOST`` at most), and the orders waiting for its word
are walked only with a try; once the reads answer again every order is judged, none left due.

Real Hardhat (the suite's chain), a real node and SQLite store, a real proxy on loopback that
answers the recheck's ``getOrderStates`` calls with a JSON-RPC error while told to."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from sdex.chain.abi import ContractAbi
from sdex.keccak import keccak
from sdex.node import rechecks, verdicts
from sdex.node.rechecks import Rechecks
from sdex.order import Order, SignedOrder, sign_order
from sdex.signature import address_of
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_mirror import synced
from tests.test_recheck81_drain import PART, READS, mined_till_judged
from tests.test_replay80 import E15, stored_closed

DUE = 300
"""Closed stored orders due a recheck at the start (the chain never filled them)."""
BLOCKS = 24
"""Blocks mined one at a time while every recheck read fails."""
MOST = 8
"""``READ_BACKOFF_MOST`` here: a failing read is tried again at least every 8 chances."""


def unknown_makers_asks(c: Chain, n: int, seed: int) -> list[SignedOrder]:
    """``n`` asks of 4 makers the chain never saw (keys made here): the mirror holds no
    funds of theirs, so a recheck of them waits for the chain's word."""
    keys = [keccak(b"recheck83 %d" % (seed + k)) for k in range(4)]
    out = []
    for k in range(n):
        o = c.order(1, c.weth, E15, c.usdc, 3_000_000 + k)
        o = Order(address_of(keys[k % 4]), o.taker, o.maker_token, o.taker_token,
                  o.maker_amount, o.taker_amount, o.fee_recipient, o.fee_amount, o.expiry,
                  o.salt)  # fmt: skip
        out.append(sign_order(o, c.domain, keys[k % 4]))
    return out


@dataclass
class Failing:
    """The proxy's state: whether it fails the reads now, and how many it failed."""

    on: threading.Event = field(default_factory=threading.Event)
    failed: int = 0
    hang: threading.Event = field(default_factory=threading.Event)
    """Set: each read is held instead (a hung chain) till ``release`` (60 s at most)."""
    release: threading.Event = field(default_factory=threading.Event)
    held: int = 0


@contextmanager
def failing_state_reads(upstream: str) -> Iterator[tuple[str, Failing]]:
    """The URL of a proxy to ``upstream`` answering every ``getOrderStates`` ``eth_call``
    (alone or in a batch) with a JSON-RPC error while ``on`` is set, or holding it while
    ``hang`` is; the rest forwarded."""
    selector = "0x" + ContractAbi.load("Exchange").fn("getOrderStates").selector.hex()
    state = Failing()
    lock = threading.Lock()

    def reads(call: object) -> bool:
        p = call.get("params") if isinstance(call, dict) else None
        if not isinstance(call, dict) or call.get("method") != "eth_call":
            return False
        tx = p[0] if isinstance(p, list) and p else None
        data = (tx.get("data") or tx.get("input")) if isinstance(tx, dict) else None
        return isinstance(data, str) and data.startswith(selector)

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        if state.hang.is_set() and any(reads(c) for c in calls):
            with lock:
                state.held += 1
            state.release.wait(60)
            return None
        if not state.on.is_set() or not any(reads(c) for c in calls):
            return None
        with lock:
            state.failed += 1
        error = {"code": -32000, "message": "upstream unavailable"}
        out = [{"jsonrpc": "2.0", "id": c.get("id"), "error": error} for c in calls]
        return 200, json.dumps(out if isinstance(req, list) else out[0]).encode()

    with _proxy(upstream, intercept) as url:
        try:
            yield url, state
        finally:
            state.release.set()  # (before the server closes: it joins its handlers' threads)


async def test_a_recheck_read_failing_each_time_backs_off_and_every_order_is_judged_after(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    monkeypatch.setattr(verdicts, "RECHECK_PART", PART)
    monkeypatch.setattr(verdicts, "RECHECK_READS", READS)
    monkeypatch.setattr(rechecks, "READ_BACKOFF_MOST", MOST)
    walked = Counter[str]()
    waits = Rechecks.waits

    def counted(self: Rechecks, h: bytes, signed: SignedOrder | None = None) -> None:
        walked["waits"] += 1
        waits(self, h, signed)

    monkeypatch.setattr(Rechecks, "waits", counted)
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass  # (the store made: its schema, its chain)
    signed = unknown_makers_asks(c, DUE, 832_000)
    stored_closed(cfg.db, signed)
    with failing_state_reads(c.rpc.url) as (url, failing):
        failing.on.set()
        async with running_node(replace(cfg, rpc=url)) as (node, _):
            await synced(node, c)
            assert len(node._recheck) == DUE, len(node._recheck)  # (the start's read failed)
            reads, looks = failing.failed, walked["waits"]
            for _ in range(BLOCKS):
                await asyncio.to_thread(c.rpc.call, "hardhat_mine", "0x1")
                await synced(node, c)
            await asyncio.sleep(0)  # (a pass the last block started: under way)
            await wait_for(lambda: node._draining is None or node._draining.done(), timeout=30)
            reads, looks = failing.failed - reads, walked["waits"] - looks
            tries = BLOCKS // 3  # (was one a block: 24 reads, 24 walks of all 300)
            assert reads <= tries and looks <= tries * DUE, (reads, looks)
            assert len(node._recheck) == DUE  # (none judged without the chain's word)
            failing.on.clear()  # (the reads answer again: every order judged)
            await mined_till_judged(c, node)
            kept = [s.hash for s in signed if (r := node.registry.load(s.hash)) and r.filled]
            assert not kept, len(kept)  # (the chain's 0 filled: none kept at the kill's)

            async def rows_gone() -> bool:  # (no row kept: a restart judges nothing again)
                return not await node.store.rechecks()

            await wait_for(rows_gone, timeout=30)
