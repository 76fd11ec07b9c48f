"""Stored closed orders whose recheck waits for the chain's word (recheck81, recheck83,
recheck84): the set-up and the end their tests share.

Real Hardhat, a real node in this process on its SQLite store; the orders' makers unknown to
the chain (keys made in the test), so a recheck of them waits for a read of their states."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sdex.chain.abi import ContractAbi
from sdex.keccak import keccak
from sdex.node import rechecks, verdicts
from sdex.node.config import NodeConfig
from sdex.node.core import Node
from sdex.node.rechecks import Rechecks
from sdex.order import Order, SignedOrder, sign_order
from sdex.signature import address_of
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_recheck81_drain import PART, READS, mined_till_judged
from tests.test_replay80 import E15, stored_closed


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


def counted_waits(monkeypatch: pytest.MonkeyPatch, most: int) -> Counter[str]:
    """``RECHECK_PART``/``RECHECK_READS`` set to recheck81's, ``READ_BACKOFF_MOST`` to
    ``most``; the count of ``Rechecks.waits`` calls (``"waits"``: an order looked at by a
    walk while it waits for the chain), kept from now on."""
    monkeypatch.setattr(verdicts, "RECHECK_PART", PART)
    monkeypatch.setattr(verdicts, "RECHECK_READS", READS)
    monkeypatch.setattr(rechecks, "READ_BACKOFF_MOST", most)
    walked = Counter[str]()
    waits = Rechecks.waits

    def counted(self: Rechecks, h: bytes, signed: SignedOrder | None = None) -> None:
        walked["waits"] += 1
        waits(self, h, signed)

    monkeypatch.setattr(Rechecks, "waits", counted)
    return walked


async def stored_unknown(
    c: Chain, tmp_path: Path, n: int, seed: int
) -> tuple[NodeConfig, list[SignedOrder]]:
    """A node's store made (its schema, its chain: the node started and stopped) and ``n``
    asks of makers the chain never saw (``seed``) stored closed in it, due a recheck at the
    next start: its config, and the asks."""
    cfg = node_config(c, tmp_path / "n.db")
    async with running_node(cfg):
        pass
    signed = unknown_makers_asks(c, n, seed)
    stored_closed(cfg.db, signed)
    return cfg, signed


async def judged_once_read(
    c: Chain, node: Node, failing: Failing, signed: list[SignedOrder]
) -> None:
    """``failing``'s reads answered again: blocks mined till every order is judged, none
    kept filled (the chain never filled them), and no recheck row left in the store (a
    restart judges nothing again)."""
    failing.on.clear()
    await mined_till_judged(c, node)
    kept = [s.hash for s in signed if (r := node.registry.load(s.hash)) and r.filled]
    assert not kept, len(kept)  # (the chain's 0 filled: none kept at the kill's)
    await no_rows_left(node)


async def no_rows_left(node: Node) -> None:
    """Till the store holds no recheck row (a restart judges nothing again)."""

    async def rows_gone() -> bool:
        return not await node.store.rechecks()

    await wait_for(rows_gone, timeout=30)
