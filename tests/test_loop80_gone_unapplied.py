"""loop80: an order a settlement found gone on chain, in a block the node has not applied
yet, is not matched again and again until that block is applied.

The settler withdraws a match whose order the mirror knows cancelled (or filled) on chain
(``NodeRecords._withdrawn``: before its signature, and again right before its send,
revert79's ``BatchTx._recheck``). While that block stays unapplied (a store refusing the
watcher's writes, a watcher a block behind under load) the book still offers the order: the
other side, given back, was matched against it at once, withdrawn again, and so on, once the
signing hold behind the known block (``sdex.watch.unapplied.BOUND``, 5 s) was over, 400 to
2,000 times a second (settle80 saw 3,700-8,700 "settlement (not sent)" lines), the node's
loop spent on it. Now the order stays out of matching (``sdex.node.gone``) until its block is
applied, or a reorg undoes the block (then it is matched again).

Real Hardhat, a real node on loopback; its chain reads through a loopback proxy
(``tests.rpcfault``) whose hook, at the node's read of its operator's count right before the
crossing's signature, mines the resting maker's cancel and takes the node's SQLite write lock
from another connection (the settlement's record and the watcher's writes wait on it, refused
past the writer's busy timeout): the mirror reads the cancel's block, the node cannot apply
it."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sdex.chain.rpc import quantity
from sdex.node.core import Node
from sdex.node.gone import GoneOrders
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

WINDOW = 4.0
"""Seconds the withdrawals are counted in, the store still locked, once the first is made."""
NOT_SENT = "(not sent)"
"""In the node's line for a settlement's results whose matches never left."""


@dataclass
class Hook:
    """Once ``armed``: at the node's first read of its operator's count, ``snapshot`` taken
    (the chain before the cancel), ``act`` run (the maker's cancel mined), ``db``'s write
    lock taken; then the read is forwarded."""

    operator: str
    db: Path
    act: Callable[[], object]
    snap: Callable[[], object]
    armed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    guard: threading.Lock = field(default_factory=threading.Lock)
    lock: sqlite3.Connection | None = None
    snapshot: object = None
    row: str = ""
    """The crossing's hash: its row committed before the lock is taken (its post answered)."""

    def unlock(self) -> None:
        if self.lock is not None:
            self.lock.rollback()
            self.lock.close()
            self.lock = None


def stored(db: Path, hash_hex: str, bound: float = 10.0) -> None:
    """Until ``db`` holds the order ``hash_hex`` (committed), ``bound`` seconds at most."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            if conn.execute("SELECT 1 FROM orders WHERE hash=?", (hash_hex,)).fetchone():
                return
        time.sleep(0.01)


@contextmanager
def hooked_proxy(upstream: str, hook: Hook) -> Iterator[str]:
    def intercept(req: object) -> Answer | None:
        calls = [x for x in (req if isinstance(req, list) else [req]) if isinstance(x, dict)]
        counts = any(
            x.get("method") == "eth_getTransactionCount"
            and str((x.get("params") or [""])[0]).lower() == hook.operator.lower()
            for x in calls
        )
        with hook.guard:
            if counts and hook.armed.is_set() and not hook.done.is_set():
                stored(hook.db, hook.row)
                hook.snapshot = hook.snap()
                hook.act()
                conn = sqlite3.connect(
                    hook.db, timeout=30, isolation_level=None, check_same_thread=False
                )
                conn.execute("BEGIN IMMEDIATE")
                hook.lock = conn
                hook.done.set()
        return None

    with _proxy(upstream, intercept) as url:
        try:
            yield url
        finally:
            hook.unlock()


class Lines(logging.Handler):
    """The node's log lines that say a settlement's matches never left."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.not_sent = 0
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        if NOT_SENT in msg:
            self.not_sent += 1
        elif len(self.messages) < 1000:
            self.messages.append(msg)


@contextmanager
def counted() -> Iterator[Lines]:
    lines = Lines()
    logger = logging.getLogger("sdex")
    was = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(lines)
    try:
        yield lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(was)


def pair(c: Chain) -> tuple[SignedOrder, SignedOrder]:
    """A resting bid of BOB's and an ask of ALICE's crossing it (a price of this run's own)."""
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000
    resting = c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB)
    crossing = c.sign(ask(c, ALICE, E18 // 10, (price - 1) * E6 // 10), ALICE)
    return resting, crossing


@dataclass
class RestingBehindHook:
    node: Node
    api: Api
    hook: Hook
    resting: SignedOrder
    """``pair``'s bid, posted; the hook's cancel is its."""
    crossing: SignedOrder
    lines: Lines


@asynccontextmanager
async def resting_behind_hook(c: Chain, db: Path) -> AsyncIterator[RestingBehindHook]:
    """A node (store ``db``) behind ``hooked_proxy`` whose hook, once armed, mines BOB's cancel
    of ``pair``'s bid; its mirror ready and its start replayed, the bid posted."""
    resting, crossing = pair(c)
    operator = c.address(19)  # (``node_config``'s operator)
    cancel = lambda: c.exchange.cancel_order(c.sender(BOB), resting.order)  # noqa: E731
    hook = Hook(operator, db, cancel, lambda: c.rpc.call("evm_snapshot"))
    with hooked_proxy(c.rpc.url, hook) as proxy, counted() as lines:
        cfg = node_config(c, db, rpc=proxy, new_heads=False, poll_interval=0.2)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=60)
            await wait_for(node.replayed, timeout=60)
            assert (await api.post_order(resting))[0] == 201
            yield RestingBehindHook(node, api, hook, resting, crossing, lines)


async def withdrawn_while_unapplied(
    c: Chain,
    node: Node,
    api: Api,
    hook: Hook,
    resting: SignedOrder,
    crossing: SignedOrder,
    lines: Lines,
    window: float = WINDOW,
) -> tuple[int, int]:
    """The crossing posted, its settlement's signature hooked (the cancel mined, the store
    locked); once its match is first given back the withdrawals and "not sent" lines counted over
    ``window`` seconds, the store still locked and the cancel's block not applied."""
    settler = node.settler
    node.sender.forget_nonce()  # (read again at the signature: the hook's moment)
    hook.row = crossing.hash_hex
    hook.armed.set()
    assert (await api.post_order(crossing))[0] == 201
    await wait_for(hook.done.is_set, timeout=30)
    await wait_for(lambda: node.gone_on_chain(resting), timeout=30)  # (the mirror read it)
    # (its record refused past the busy timeout, or its match withdrawn: given back unsent)
    await wait_for(lambda: settler.refused + settler.withdrawn_matches >= 1, timeout=60)
    w0, l0 = settler.withdrawn_matches, lines.not_sent
    began = time.monotonic()
    while time.monotonic() - began < window:  # (a bounded window, the block still unapplied)
        assert node.watcher.unapplied.applied < quantity(c.rpc.call("eth_blockNumber"))
        await asyncio.sleep(0.1)  # (sampled: the window itself is what is measured)
    return settler.withdrawn_matches - w0, lines.not_sent - l0


@pytest.mark.parametrize("undone", [False, True], ids=["applied", "reorg"])
async def test_an_order_gone_in_an_unapplied_block_is_not_matched_again(
    chain: Chain, tmp_path: Path, undone: bool
) -> None:
    """Before: the crossing matched against the cancelled bid again and again while the
    cancel's block stayed unapplied (thousands of withdrawals in the window). Now: none
    after the first, one line for the order; once the block is applied the bid is cancelled
    and the ask rests; a reorg that undoes the cancel brings the bid back: they settle."""
    c = chain
    db = tmp_path / "n.db"
    async with resting_behind_hook(c, db) as k:
        node, api, hook = k.node, k.api, k.hook
        resting, crossing, lines = k.resting, k.crossing, k.lines
        try:
            again, said = await withdrawn_while_unapplied(
                c, node, api, hook, resting, crossing, lines
            )
            # before: thousands of each (failed 3 of 3)
            assert again <= 1 and said <= 1, (again, said)
            assert node.gone_orders.kept_out == 1 and resting.hash in node.gone_orders.orders
            if undone:  # (the cancel's block replaced by a longer branch without it)
                assert c.rpc.call("evm_revert", hook.snapshot) is True
                c.rpc.call("hardhat_mine", "0x3")
        finally:
            hook.unlock()
        if undone:

            async def settled() -> bool:
                return await api.status(crossing) == "filled"

            await wait_for(settled, timeout=60)
            assert await api.status(resting) in ("filled", "partially_filled")  # (its price)
        else:

            async def cancelled() -> bool:
                return await api.status(resting) == "cancelled"

            await wait_for(cancelled, timeout=60)
            assert await api.status(crossing) == "open"
            await wait_for(lambda: node.settler.idle.is_set(), timeout=30)
            assert not node.gone_orders.out(resting.hash)  # (its block applied: let go)
        assert not node.gone_orders.orders


@pytest.mark.parametrize(
    ("offered", "gone", "kept", "bound"),
    [
        ({0, 1, 2, 3, 4}, {0, 1, 2, 3, 4}, [0, 1, 2, 3, 4], 6),  # (past it: none leaves)
        ({0, 1, 2, 3, 4}, {0, 2, 3, 4}, [0, 2, 3, 4], 6),  # (no longer gone: never kept)
        ({0, 1, 3, 4}, {0, 1, 2, 3, 4}, [0, 1, 3, 4], 4),  # (2 no longer offered: let go)
    ],
)
def test_the_orders_kept_out_are_bounded(
    chain: Chain, offered: set[int], gone: set[int], kept: list[int], bound: int
) -> None:
    """``GoneOrders`` at its bound lets go those the book no longer offers or the mirror no
    longer has gone, and looks again once they are twice as many as it kept: never one
    the book offers and the mirror has gone (loop81: the oldest left, and looped)."""
    c = chain
    orders = [c.sign(bid(c, BOB, E18 // 10 + i, 2000 * E6 // 10), BOB) for i in range(5)]
    index = {so.hash: i for i, so in enumerate(orders)}
    now_offered = set(range(5))
    out = GoneOrders(lambda so: index[so.hash] in gone, lambda h: index[h] in now_offered, 3)
    for i, so in enumerate(orders):
        if i == 3:
            now_offered = set(offered)  # (the book as it stands at the bound's look)
        out.add(so)
    assert [index[h] for h in out.orders] == kept
    assert all(out.out(orders[i].hash) for i in kept)
    assert out.bound == bound  # (the next look: once twice as many as the last one kept)
