"""review86b: review85's 503 on a soft cancel during a held start (doubt83) of an order a
pooled row of the last run names, when the cancel is a peer's.

A wallet told 503 tries again; a peer's cancel is delivered by the gossip layer, which drops
the answer (``Gossip._run``'s ``Deliver``: ``cancel_notice``'s result unread; a push's
``POST /p2p/cancels`` answered 503). The hold ends, the row is adopted, and the maker's
cancel, taken by the rest of the network, is not applied here: after the row lands, the
order's remainder rests in this node's book, open, and can be matched (a soft-cancelled
order traded) till anti-entropy with a peer that holds the cancel brings it again. A start
that does not hold takes the same cancel at once (the row left to land: by design).

held86: the peer's cancel, its maker's, is kept (202 "kept", bounded and stored as a cancel
of an order not held yet) and applied right after the row is adopted, also by the next start
when the node stops during the hold; one not signed by the maker is refused 400 and kept
nowhere.

Real chain of the suite's engine (mining paused: the row pooled), a real node on its SQLite
store restarted behind review85's loopback proxies (a doubt at the start, reads by block hash
and the orders' reads refused till the test opens them); the peer's cancel handed to
``Node.cancel_notice`` as the gossip layer's ``Deliver`` does."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.node import Node
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder, sign_hash
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.heldstart import held_reads, left_row, mining_paused, states_selector
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask
from tests.test_review66_adopt_landed import OPERATOR
from tests.test_review74a_flapped_head import _saved_head

pytestmark = pytest.mark.usefixtures("quick_doubt_reads")  # (the hold, not the start's tries)


@asynccontextmanager
async def _held_start(
    c: Chain,
    tmp_path: Path,
    salt: int,
    prepare: Callable[[Store, SignedOrder], Awaitable[object]] | None = None,
) -> AsyncIterator[tuple[NodeConfig, Node, Api, SignedOrder, str, threading.Event]]:
    """The last run's pooled row of half of ALICE's ask (mining paused), a node started held
    on it behind review85's proxies: the config, the node, its API, the ask, the row's hash
    and the proxy's gate (set: the orders' reads let through). ``prepare``: more of the last
    run's rows written (given the store and CAROL's ask the first run holds open)."""
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    first = c.sign(ask(c, CAROL, E18, 9000 * E6, salt=salt))  # (a first run: a head saved)
    async with running_node(cfg) as (_, api):
        assert (await api.post_order(first))[0] == 201
    head = _saved_head(cfg.db)
    resting, _, tx = await left_row(c, cfg, 2, salt + 1, bid_size=1)  # (the row: half of it)
    if prepare is not None:
        block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
        store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
        await prepare(store, first)
        store.close()
    with mining_paused(c):
        c.rpc.call("eth_sendRawTransaction", tx.raw)  # (pooled: the last run's)
        with held_reads(c.rpc.url, head, states_selector(c, resting)) as (url, gate, doubts):
            async with running_node(replace(cfg, rpc=url)) as (node, api):
                flapped, second = doubts
                assert flapped == [1] and second == [1]
                assert node.held_why() and await api.status(resting) == "open"
                yield cfg, node, api, resting, tx.tx_hash, gate


def _notice(c: Chain, order: SignedOrder, key: int) -> dict[str, str]:
    sig = "0x" + sign_hash(c.domain.cancel_digest(order.hash), c.keys[key]).hex()
    return {"orderHash": order.hash_hex, "signature": sig}


async def _landed(c: Chain, node: Node, tx_hash: str) -> None:
    """The pool mined till the settler is idle; the row landed and did not revert."""
    s = node.settler

    async def idle() -> bool:
        c.rpc.call("evm_mine")
        return s.idle.is_set() and not s.in_flight

    await wait_for(idle, timeout=60)
    mined = c.rpc.call("eth_getTransactionReceipt", tx_hash)
    assert mined is not None and int(mined["status"], 16) == 1


async def test_a_peers_cancel_during_the_hold_is_not_lost(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    async with _held_start(c, tmp_path, 8621) as (_, node, api, resting, tx_hash, gate):
        forged = node.cancel_notice(_notice(c, resting, BOB), "peer-2")  # (not the maker's)
        said = node.cancel_notice(_notice(c, resting, ALICE), "peer-1")  # (Deliver: unread)
        assert said.status in (202, 503), said.body  # (202 "kept": held86)
        gate.set()
        await wait_for(lambda: not node.held_why(), timeout=60)
        await _landed(c, node, tx_hash)
        status = await api.status(resting)
        assert status == "cancelled", f"{status}: the peer's cancel answered {said.status}"
        assert len(node.orphan_cancels) == 0  # (applied: kept no longer)
        assert forged.status == 400, forged.body  # (kept nowhere: before, 503)


async def test_a_peers_cancel_kept_in_the_hold_is_applied_by_the_next_start(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop during the hold (review85: the row left pending for the next start), the row
    mined meanwhile (the next start marks it landed, adopts nothing): the peer's cancel,
    answered 202 once its row was committed, is applied by the next start, out of the doubt
    (before held86: refused 503, lost; the order rested half filled, tradable)."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    async with _held_start(c, tmp_path, 8651) as (cfg, node, _, resting, tx_hash, _gate):
        said = node.cancel_notice(_notice(c, resting, ALICE), "peer-1")
        if said.stored is not None:
            await said.stored  # (committed: the 202 a push's answer waits for)
        assert said.status == 202, said.body
    # (stopped while held; the pool mined as the chain's automine came back)
    mined = c.rpc.call("eth_getTransactionReceipt", tx_hash)
    assert mined is not None and int(mined["status"], 16) == 1
    async with running_node(cfg) as (node, api):
        assert not node.held_why()
        assert await api.status(resting) == "cancelled"
        assert len(node.orphan_cancels) == 0
