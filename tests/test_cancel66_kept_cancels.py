"""cancel66: the soft cancels a node keeps for orders it does not hold yet (cancel63, cancel65:
``sdex.node.orphans``), three leftovers.

- A pile on one hash: one well-formed cancel from each of many host groups' strangers (or
  wallets' clients) for the same order hash, each signed by some key. The order's arrival
  recovered every one of them to find its maker's (20,000: ~2.7 s of the event loop stalled).
  Now past a few a hash each signer is recovered when kept, and the arrival compares.
- A wallet's fake cancel (signed by another key than the maker's) of an order not held yet
  kept the maker's real one, posted from the same client, out (one a hash from each count:
  404, dropped), and the order, when it came, was booked open.
- A peer's kept cancel was answered (202) before its row was committed: the node killed right
  after the answer lost a cancel its peer was told was kept.

Real Hardhat; a node on loopback (in process) or a real ``sdex node`` process killed with
SIGKILL; SQLite's own write lock, held from the test, keeps the node's row from committing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from pathlib import Path

import pytest

import sdex.node.softcancel as softcancel
from sdex.gossip import NodeKey, PeerClient
from sdex.node.orphans import OrphanCancels
from tests.conftest import Chain
from tests.nodeutil import Cluster, node_config, running_node
from tests.test_attack38_soft_cancel_sync import taken_at
from tests.test_cancel63_cancel_before_order import notice_of
from tests.test_cancel65_wallet_cancel import cancel_posted
from tests.test_hostile import _raw_signed_post
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

PILE = 400
"""Fakes kept for one hash (the bounds allow 20,000: the stall grows with them)."""


def counted_recoveries(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The signatures the node's soft cancels recover from now on (each still recovered)."""
    recovered: list[bytes] = []
    recover = softcancel.recover_signer

    def counted(digest: bytes, signature: bytes) -> str:
        recovered.append(signature)
        return recover(digest, signature)

    monkeypatch.setattr(softcancel, "recover_signer", counted)
    return recovered


async def test_a_pile_of_fakes_on_one_hash_costs_its_order_a_few_recoveries(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PILE`` strangers, each from a host group of its own, send a fake cancel of Alice's
    order (each signed by a key of its own), then one more sends hers. When the order comes
    it is held cancelled, and the node recovers at most 4 signatures then (before: every
    kept one, ``PILE + 1``, on the event loop)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        for i in range(PILE):
            fake = notice_of(c, withdrawn, os.urandom(32))
            hostile = NodeKey.generate().node_id
            address = f"10.{i // 256}.{i % 256}.1"  # (a /24 each: a host group each)
            assert node.cancel_notice(fake, hostile, address).status == 202
        real = notice_of(c, withdrawn, c.keys[ALICE])
        assert node.cancel_notice(real, NodeKey.generate().node_id, "192.0.2.7").status == 202
        assert len(node.orphan_cancels) == PILE + 1
        recovered = counted_recoveries(monkeypatch)
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        assert len(recovered) <= 4, len(recovered)  # before: 401
        code, body = await api.post_order(c.sign(bid(c, BOB, E18, 1000 * E6)))
        assert withdrawn.hash_hex not in {m["restingOrderHash"] for m in body.get("matches", [])}
        await taken_at(api, c, withdrawn)


async def test_a_pile_read_back_at_a_restart_costs_its_order_no_recovery(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kept cancels read back at a start come with their signers (recovered then, off
    the loop): the order's arrival after a restart recovers none of them (before: each)."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    async with running_node(cfg) as (node, _):
        for i in range(10):
            fake = notice_of(c, withdrawn, os.urandom(32))
            assert node.cancel_notice(fake, NodeKey.generate().node_id, f"10.0.{i}.1").status == 202
        real = notice_of(c, withdrawn, c.keys[ALICE])
        assert node.cancel_notice(real, NodeKey.generate().node_id, "192.0.2.7").status == 202
    async with running_node(cfg) as (node, api):
        assert len(node.orphan_cancels) == 11
        recovered = counted_recoveries(monkeypatch)
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        assert recovered == []  # before: 11


async def test_one_counts_fakes_do_not_keep_its_real_cancel_out(
    chain: Chain, tmp_path: Path
) -> None:
    """A host group's strangers send fakes of Alice's order before an honest stranger on the
    same host passes her cancel on: hers is kept too (another signer), and binds the order."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        fakes = [notice_of(c, withdrawn, os.urandom(32)) for _ in range(6)]  # (past the few)
        codes = [node.cancel_notice(f, NodeKey.generate().node_id, "192.0.2.7") for f in fakes]
        real = notice_of(c, withdrawn, c.keys[ALICE])
        code = node.cancel_notice(real, NodeKey.generate().node_id, "192.0.2.8").status
        assert code == 202  # before: 404 (the host group's first fake held its place)
        assert [r.status for r in codes] == [202] * 6  # (each another signer: kept)
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body


async def test_a_wallets_fake_cancel_does_not_keep_the_makers_out(
    chain: Chain, tmp_path: Path
) -> None:
    """Bob's "cancel" of Alice's order (not held here yet) is kept (whose it is shows when the
    order comes); Alice's own, posted from the same client, is kept too (before: 404, one a
    hash from each client's count) and cancels her order when it comes (before: open)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (_, api):
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await cancel_posted(api, c, withdrawn, BOB))[0] == 202
        code, body = await cancel_posted(api, c, withdrawn, ALICE)
        assert (code, body) == (202, {"orderHash": withdrawn.hash_hex, "status": "kept"})
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        await taken_at(api, c, withdrawn)


ANSWER_WAIT = 2.0
"""Seconds the peer's answer is waited for while the test holds the database's write lock
(below the node's SQLite busy timeout, 5 s: its row is committed once the lock goes)."""


async def test_a_peers_kept_cancel_is_answered_once_committed_and_outlives_a_kill(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer passes on Alice's cancel of an order the node (a real process) does not hold;
    the test holds SQLite's write lock meanwhile, so the node cannot commit the cancel's row.
    The node is killed (SIGKILL) as soon as it answers. Before, it answered at once (the row
    still waiting for the lock): killed, the cancel was lost, and the order, posted after a
    restart, was booked open and traded. Now the answer comes once the row is committed (the
    lock let go), and the order is taken cancelled after the kill."""
    c = chain
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    notice = notice_of(c, withdrawn, c.keys[ALICE])
    async with Cluster(c, tmp_path, [[]]) as net:
        assert net.session is not None
        peer = PeerClient(net.session, NodeKey.generate(), "http://127.0.0.1:9")
        to = net.node_key(0).node_id
        raw = f'{{"orderHash": "{notice["orderHash"]}", "signature": "{notice["signature"]}"}}'
        with contextlib.closing(sqlite3.connect(tmp_path / "node-0.db", timeout=30)) as lock:
            lock.isolation_level = None
            lock.execute("BEGIN IMMEDIATE")  # the node's writes wait for it
            post = _raw_signed_post(peer, net.urls[0], "/p2p/cancels", raw.encode(), to)
            answer = asyncio.ensure_future(post)
            done, _ = await asyncio.wait({answer}, timeout=ANSWER_WAIT)
            if done:  # (before: answered while its row could not be committed)
                net.kill(0)
            lock.execute("ROLLBACK")
            code = await answer
            if not done:  # killed as soon as it answered
                net.kill(0)
        assert code == 200  # (kept: 202, 200 over the wire)
        net.spawn(0)
        await net.wait_healthy(0)
        api = net.api(0)
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: 201
        await taken_at(api, c, withdrawn)


def test_a_hash_keeps_a_few_unrecovered_then_only_with_their_signer() -> None:
    """``UNCHECKED_PER_HASH`` kept without a signer; past them (or a second from one count)
    only with it, one a hash from each count and signer; evicted ones free their place."""
    kept = OrphanCancels(per_sender=2, total=100)
    h = os.urandom(32)
    assert [kept.keep(h, bytes([n]) * 65, f"p{n}", f"p{n}", 0.0) for n in range(1, 5)] == [True] * 4
    assert kept.needs_signer(h, "p9") and not kept.keep(h, b"\x09" * 65, "p9", "p9", 0.0)
    assert kept.keep(h, b"\x0a" * 65, "p9", "p9", 0.0, "0xabc")
    assert not kept.keep(h, b"\x0b" * 65, "p9", "p9", 0.0, "0xabc")  # (same count and signer)
    assert kept.keep(h, b"\x0c" * 65, "p9", "p9", 0.0, "0xdef")
    assert kept.keep(h, b"\x0d" * 65, "p9", "p9", 1.0, "0x123")  # (p9's oldest evicted)
    assert kept.keep(h, b"\x0e" * 65, "p9", "p9", 2.0, "0xabc")  # (its place free again)
    got = {o.signature: o.signer for o in kept.take(h, 3.0)}
    assert len(got) == 6 and got[b"\x0e" * 65] == "0xabc" and b"\x0a" * 65 not in got
    assert len(kept) == 0 and not kept.needs_signer(h, "p1")
