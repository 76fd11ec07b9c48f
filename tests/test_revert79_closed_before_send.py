"""revert79: a settlement whose order another account closed on chain between the book's last
look and the send is not sent.

revert78 held every signature behind every block the node knew of and had not applied. Two
windows were left, each a paid revert when another account's cancel (or fill) lands in it:
(b) the block mined after the signature, before the send (the record made durable first:
behind a locked store, seconds); (a) the block mined before the signature, not yet heard (a
loop turn with newHeads; up to the 50 ms poll without). Now a lone match's send first asks
the chain's head when the last head it heard is older than ``HEAD_FRESH`` and waits for every
known block not its own to be applied (``PollLoop.before_send``); every send looks at its
matches again: one gone, the transaction is never sent (its nonce taken again) and the others are
signed again (``BatchTx._recheck``).

Real Hardhat, a real node on loopback; (b): a real SQLite write lock from another connection
holds the settlement's record while the maker's cancel is mined; (a): the node's chain reads
through a loopback proxy (``tests.rpcfault``) whose hook mines the maker's cancel as the node
reads its nonce, right before its signature, the node polling (no newHeads)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sdex.chain.rpc import quantity
from sdex.node.core import Node
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def count(c: Chain, address: str) -> int:
    return quantity(c.rpc.call("eth_getTransactionCount", address, "latest"))


def pair(c: Chain) -> tuple[SignedOrder, SignedOrder]:
    """A resting bid of BOB's and an ask of ALICE's crossing it (a price of this run's own)."""
    price = 2000 + quantity(c.rpc.call("eth_blockNumber")) % 1000
    resting = c.sign(bid(c, BOB, E18 // 10, price * E6 // 10), BOB)
    crossing = c.sign(ask(c, ALICE, E18 // 10, (price - 1) * E6 // 10), ALICE)
    return resting, crossing


async def settled_down(node: Node, api: Api, crossing: SignedOrder) -> None:
    """Until the crossing ask's match is over (settled, failed or withdrawn)."""

    async def over() -> bool:
        code, rec = await api.get(f"/v1/orders/{crossing.hash_hex}")
        return (
            code == 200
            and rec["metaData"]["pendingMakerAmount"] == "0"
            and node.settler.idle.is_set()
        )

    await wait_for(over, timeout=60)


async def test_a_cancel_mined_while_the_record_waits_is_not_sent(
    chain: Chain, tmp_path: Path
) -> None:
    """(b) Signed, its record waiting on a locked store; the maker's cancel mined and
    announced meanwhile: before, sent once the lock ended, reverted (the operator paid)."""
    c = chain
    db = tmp_path / "n.db"
    resting, crossing = pair(c)
    async with running_node(node_config(c, db)) as (node, api):
        await wait_for(node.mirror_ready, timeout=60)
        assert (await api.post_order(resting))[0] == 201
        operator = node.sender.address
        sent = count(c, operator)
        lock = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            lock.execute("BEGIN IMMEDIATE")  # (the node's writer waits: 5 s busy timeout)
            post = asyncio.ensure_future(api.post_order(crossing))  # (its commit waits)
            await wait_for(lambda: node.settler.sent >= 1, timeout=30)  # signed, record waits
            c.exchange.cancel_order(c.sender(BOB), resting.order)  # another account's block
            n = quantity(c.rpc.call("eth_blockNumber"))
            u = node.watcher.unapplied
            await wait_for(lambda: max([u.applied, *(k for k, _ in u.known)]) >= n, 30)
        finally:
            lock.rollback()
            lock.close()
        assert (await post)[0] == 201
        await settled_down(node, api, crossing)
        # before: the settlement went once the lock ended, and reverted (OrderNotFillable)
        after = count(c, operator)
        assert (after - sent, node.settler.failed) == (0, 0), getattr(
            node.settler, "withheld", None
        )
        assert node.settler.given_back == 1 and node.settler.sent == 0
        assert await api.status(crossing) == "open"  # (its match withdrawn: it rests)
        assert await api.status(resting) == "cancelled"


@dataclass
class Hook:
    """Once ``armed``: at the node's first read of its operator's pending count (right
    before its signature), ``act`` runs first (the maker's cancel mined), then it is
    forwarded. Head polls wait while it runs (none answered in between: the node cannot
    have heard the cancel's block before it signs)."""

    operator: str
    act: object
    armed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def hooked_proxy(upstream: str, hook: Hook) -> Iterator[str]:
    def intercept(req: object) -> Answer | None:
        calls = [x for x in (req if isinstance(req, list) else [req]) if isinstance(x, dict)]
        counts = any(
            x.get("method") == "eth_getTransactionCount"
            and str((x.get("params") or [""])[0]).lower() == hook.operator.lower()
            for x in calls
        )
        with hook.lock:  # (a head poll meanwhile waits for the hook's act)
            if counts and hook.armed.is_set() and not hook.done.is_set():
                time.sleep(0.02)  # (a poll answered before is older than ``HEAD_FRESH``)
                assert callable(hook.act)
                hook.act()
                hook.done.set()
        return None

    with _proxy(upstream, intercept) as url:
        yield url


async def test_a_cancel_mined_just_before_the_signature_unheard_is_not_sent(
    chain: Chain, tmp_path: Path
) -> None:
    """(a) Polling (no newHeads), the maker's cancel mined as the node reads its nonce for
    the signature: the node has not heard its block when it signs; before, it sent the
    settlement at once, and it reverted."""
    c = chain
    resting, crossing = pair(c)
    operator = c.address(19)  # (``node_config``'s operator)
    hook = Hook(operator, lambda: c.exchange.cancel_order(c.sender(BOB), resting.order))
    with hooked_proxy(c.rpc.url, hook) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy, new_heads=False, poll_interval=2.0)
        async with running_node(cfg) as (node, api):
            await wait_for(node.mirror_ready, timeout=60)
            assert node.sender.address.lower() == operator.lower()
            assert (await api.post_order(resting))[0] == 201
            sent = count(c, operator)
            node.sender.forget_nonce()  # (read again at the signature: the hook's moment)
            hook.armed.set()
            assert (await api.post_order(crossing))[0] == 201
            await settled_down(node, api, crossing)
            assert hook.done.is_set()
            # before: signed as the cancel was mined, sent at once, reverted
            after = count(c, operator)
            assert (after - sent, node.settler.failed) == (0, 0), getattr(
                node.settler, "withheld", None
            )
            assert node.settler.given_back == 1
            assert await api.status(crossing) == "open"
            assert await api.status(resting) == "cancelled"
