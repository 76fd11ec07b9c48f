"""settle80: a settlement withdrawn before its send is never sent again after a restart.

revert79's ``BatchTx._recheck`` gives a settlement's nonce back when an order of it closed
between its signature and its send and it is the lane's last: the next settlement is signed
at that nonce. The withdrawn row was marked ``dropped`` by a write of its own, queued once the
settler woke from the withdrawal (behind any record queued meanwhile) and never tied to the
next row: when that write had not committed (a kill first) or failed, and the next row had,
the store held two ``pending`` rows at one nonce, and a restart's reconcile sent the
withdrawn bytes again (the first in the table): a paid revert for an order cancelled on
chain, the next settlement refused "nonce too low" and its matches matched again. Now the drop
is queued before the nonce is given back, and the next row recorded at that nonce drops the
withdrawn one in its own transaction (``Store.add_settlement``'s ``given_back``).

Real Hardhat, a real ``sdex node`` process behind a loopback proxy (``tests.rpcfault``): the
withdrawn settlement signed while its record waits on the node's SQLite store, locked from
another connection (revert79's (b)); the watcher's head polls held from then on, so its send
asks the chain's head (right before its recheck, its record durable); at that ask the proxy
mines its maker's cancel and locks the store until the drop's write has failed on the lock;
the next settlement, at the same nonce, is recorded and its send held at the proxy; the node
is killed by its PID and started again on the same store and chain."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdex.chain.rpc import quantity
from tests.conftest import Chain
from tests.nodeutil import Api, node_up, wait_for
from tests.rpcfault import HOLD, Answer, _errors, _proxy, head_polls
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_node_restart import OPERATOR

NOT_STORED = "a write could not be stored"
"""What the node logs of a write that failed and nobody awaited (``sqlwriter.log_failure``)."""


@dataclass
class Window:
    """The proxy's hooks. Once ``head_armed``: the watcher's head polls are held (``polled``
    once one is: the node hears no head from then on, so a send asks for it), and at the
    first ``eth_blockNumber`` (that ask, right before the send's recheck) ``act`` runs (the
    maker's cancel mined), ``db``'s write lock is taken (``lock``), then the polls and the
    ask go on. Once ``send_armed``: the first raw transaction sent is held until
    ``release``, then answered with an error (never forwarded)."""

    db: Path
    act: Callable[[], object]
    head_armed: threading.Event = field(default_factory=threading.Event)
    polled: threading.Event = field(default_factory=threading.Event)
    locked: threading.Event = field(default_factory=threading.Event)
    lock: sqlite3.Connection | None = None
    send_armed: threading.Event = field(default_factory=threading.Event)
    send_held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    guard: threading.Lock = field(default_factory=threading.Lock)

    def unlock(self) -> None:
        if self.lock is not None:
            self.lock.rollback()
            self.lock.close()
            self.lock = None


def locked_db(db: Path) -> sqlite3.Connection:
    """A connection of its own holding ``db``'s write lock (the node's writer waits on it,
    its busy timeout, then fails)."""
    conn = sqlite3.connect(db, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("BEGIN IMMEDIATE")
    return conn


@contextmanager
def window_proxy(upstream: str, w: Window) -> Iterator[str]:
    def intercept(req: object) -> Answer | None:
        calls = [c for c in (req if isinstance(req, list) else [req]) if isinstance(c, dict)]
        methods = {str(c.get("method", "")) for c in calls}
        with w.guard:
            head = w.head_armed.is_set() and not w.locked.is_set() and "eth_blockNumber" in methods
            if head:  # (~10 ms: the node's ask waits ``SEND_WAIT``, 1 s, for its answer)
                w.act()  # (the maker's cancel mined: the node has not heard its block)
                w.lock = locked_db(w.db)
                w.locked.set()
            poll = w.head_armed.is_set() and not w.locked.is_set() and head_polls(calls)
            if poll:
                w.polled.set()
            send = any(m.startswith("eth_sendRaw") for m in methods)
            held = send and w.send_armed.is_set() and not w.send_held.is_set()
            if held:
                w.send_held.set()
        if poll:  # (a poll answered within ``HEAD_FRESH`` of the send: no ask, 1 in ~10)
            w.locked.wait(HOLD)
        if held:
            w.release.wait(HOLD)
            return 200, json.dumps(_errors(req)).encode()
        return None

    with _proxy(upstream, intercept) as url:
        try:
            yield url
        finally:
            w.release.set()  # (before the server closes: it joins its handlers' threads)
            w.unlock()


def count(c: Chain, address: str) -> int:
    return quantity(c.rpc.call("eth_getTransactionCount", address, "latest"))


def pending_at(db: Path) -> dict[str, int]:
    """``db``'s pending settlement rows: each one's nonce, by hash."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT tx_hash, nonce FROM settlements WHERE status='pending'")
        return {str(h): int(n) for h, n in rows.fetchall()}


async def health(api: Api) -> dict[str, Any]:
    _, body = await api.get("/health")  # (200, or 503 while degraded: the same counts)
    assert isinstance(body, dict)
    return body


async def test_a_withdrawn_settlement_is_not_sent_again_at_a_restart(
    chain: Chain, tmp_path: Path
) -> None:
    """The withdrawn settlement's drop refused (the store locked past its busy timeout), the
    next settlement at its nonce recorded, the node killed before that one left: the restart
    sends only the next one (before: both rows pending, the withdrawn one sent first and
    reverted, the next refused and matched again: failed 3 of 3)."""
    c = chain
    db = tmp_path / "n.db"
    log = db.with_suffix(".log")
    operator = c.address(OPERATOR)
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    resting = c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB)
    crossing = c.sign(ask(c, ALICE, E18 // 10, (price - 1) * E6 // 10), ALICE)
    later = c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB)  # (crosses ``crossing``)
    w = Window(db, lambda: c.exchange.cancel_order(c.sender(BOB), resting.order))
    with window_proxy(c.rpc.url, w) as url:
        async with node_up(c, db, url, OPERATOR) as (proc, api):
            assert (await api.post_order(resting))[0] == 201
            at = count(c, operator)  # (the nonce the withdrawn settlement is signed at)
            lock = locked_db(db)  # (the crossing's settlement's record waits: revert79's (b))
            try:
                posting = asyncio.ensure_future(api.post_order(crossing))  # (its row waits)

                async def signed() -> bool:  # (its fees and nonce read: no head read left)
                    return (await health(api))["settlementsSent"] >= 1

                await wait_for(signed, timeout=4)
                w.head_armed.set()  # (its send's ask of the head, once its record is durable)
                await wait_for(w.polled.is_set, timeout=4)  # (no poll answered from now on)
            finally:  # (within the writer's busy timeout, 5 s: the record is not refused)
                lock.rollback()
                lock.close()
            assert (await posting)[0] == 201
            await wait_for(w.locked.is_set, timeout=30)
            ((withdrawn, nonce),) = pending_at(db).items()  # (its record durable, not sent)
            assert nonce == at
            try:

                async def given_back() -> bool:
                    return (await health(api))["settlementsWithheld"] >= 1

                await wait_for(given_back, timeout=30)
                assert (await health(api))["settlementsWithheldCancelled"] == 0  # (not cancelled)

                def refused() -> bool:  # (the drop's write, on the lock past its busy timeout)
                    return NOT_STORED in log.read_text(errors="replace")

                await wait_for(refused, timeout=30)
            finally:
                w.unlock()
            assert withdrawn in pending_at(db)  # (its drop never stored)

            async def ok() -> bool:  # (the watcher's own writes refused meanwhile: failing)
                return (await health(api))["chain"] == "ok"

            await wait_for(ok, timeout=30)
            w.send_armed.set()
            assert (await api.post_order(later))[0] == 201
            await wait_for(w.send_held.is_set, timeout=30)  # (recorded, its send held)
            rows = pending_at(db)
            proc.kill()  # (SIGKILL, by its PID: the next settlement's row pending)
            proc.wait(timeout=10)
            w.release.set()
    assert set(rows.values()) == {at}, rows  # (the next one, at the nonce given back)
    async with node_up(c, db, None, OPERATOR) as (proc, api):

        async def settled() -> bool:
            return await api.status(later) == "filled"

        await wait_for(settled, timeout=60)
    # before: both rows pending, the withdrawn one sent again first, mined and reverted (its
    # order cancelled on chain: the operator paid), the next refused and matched again
    again = c.rpc.call("eth_getTransactionReceipt", withdrawn)
    assert again is None, f"the withdrawn bytes were mined again, status {again['status']}"
    (next_row,) = (h for h in rows if h != withdrawn)
    got = c.rpc.call("eth_getTransactionReceipt", next_row)
    assert got is not None and int(got["status"], 16) == 1, got  # (no revert)
    assert count(c, operator) == at + 1, rows
