"""settle80's loopback proxy around a withdrawn settlement (settle80, review81).

Real Hardhat, a real ``sdex node`` process behind a loopback proxy (``tests.rpcfault``): the
withdrawn settlement signed while its record waits on the node's SQLite store, locked from
another connection (revert79's (b)); the watcher's head polls held from then on, so its send
asks the chain's head (right before its recheck, its record durable); at that ask the proxy
mines its maker's cancel and locks the store until the drop's write has failed on the lock."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sdex.chain.rpc import quantity
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_up, wait_for
from tests.rpcfault import HOLD, Answer, Gate, _proxy, gates_answer, head_polls, sends
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
    ask go on. Once ``send.armed``: the first raw transaction sent is held until
    ``send.release``, then answered with an error (never forwarded)."""

    db: Path
    act: Callable[[], object]
    head_armed: threading.Event = field(default_factory=threading.Event)
    polled: threading.Event = field(default_factory=threading.Event)
    locked: threading.Event = field(default_factory=threading.Event)
    lock: sqlite3.Connection | None = None
    send: Gate = field(default_factory=lambda: Gate(sends, fail=True))
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
        if poll:  # (a poll answered within ``HEAD_FRESH`` of the send: no ask, 1 in ~10)
            w.locked.wait(HOLD)
        return gates_answer([w.send], req, w.guard)

    with _proxy(upstream, intercept) as url:
        try:
            yield url
        finally:
            w.send.release.set()  # (before the server closes: it joins its handlers' threads)
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


def crossing_pair(c: Chain, db: Path) -> tuple[int, SignedOrder, SignedOrder, Window]:
    """This run's own price, BOB's bid resting at it, ALICE's ask crossing it, and the proxy's
    hooks for the store ``db`` mining the bid's cancel."""
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000  # (this run's own)
    resting = c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB)
    crossing = c.sign(ask(c, ALICE, E18 // 10, (price - 1) * E6 // 10), ALICE)
    return (
        price,
        resting,
        crossing,
        Window(db, lambda: c.exchange.cancel_order(c.sender(BOB), resting.order)),
    )


async def withdrawn_unsent(
    c: Chain, w: Window, api: Api, resting: SignedOrder, crossing: SignedOrder
) -> tuple[str, int]:
    """``resting`` taken, then ``crossing``: their settlement signed while its record waits on
    ``w.db`` locked, at its send's ask of the head ``w`` mines ``resting``'s cancel and locks
    the store; the settlement given back unsent and its drop's write refused on the lock
    (``log`` names the node's log), then the store unlocked. The withdrawn settlement's hash
    and the operator's nonce it was signed at."""
    db = w.db
    log = db.with_suffix(".log")
    assert (await api.post_order(resting))[0] == 201
    at = count(c, c.address(OPERATOR))  # (the nonce the withdrawn settlement is signed at)
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

        def refused() -> bool:  # (the drop's write, on the lock past its busy timeout)
            return NOT_STORED in log.read_text(errors="replace")

        await wait_for(refused, timeout=30)
    finally:
        w.unlock()
    return withdrawn, at


@asynccontextmanager
async def withdrawn_node(
    c: Chain, w: Window, resting: SignedOrder, crossing: SignedOrder
) -> AsyncIterator[tuple[subprocess.Popen[bytes], Api, str, int]]:
    """An ``sdex node`` (``OPERATOR``'s) on ``w.db`` behind ``window_proxy``, yielded once
    ``withdrawn_unsent`` gave its settlement of ``resting`` and ``crossing`` back, the drop
    refused and the store unlocked: its process, its client, the withdrawn settlement's hash
    and the operator's nonce it was signed at (settle80, review81)."""
    with window_proxy(c.rpc.url, w) as url:
        async with node_up(c, w.db, url, OPERATOR) as (proc, api):
            withdrawn, at = await withdrawn_unsent(c, w, api, resting, crossing)
            yield proc, api, withdrawn, at
