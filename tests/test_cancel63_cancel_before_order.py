"""cancel63: a soft cancel that reaches a node before the order it cancels.

An outbox sends its notices before its orders, so a cancel made while its order's push
waits (a busy window, a link down a moment) reaches the peer first; a peer outside the
maker's node's mesh gets the cancel directly and the order a hop later; a hostile peer
holding the signed order can replay it at any time. Before, the node answered the cancel
404 and dropped it, then booked the order open when it came and matched it: the wallet's
cancel lost there. Now the node keeps the cancel (bounded: ``sdex.node.orphans``) and an
order that comes later is held ``cancelled`` if the kept signature is its maker's.

Real Hardhat; real ``sdex node`` processes, or a node on loopback whose peer is a signed
client (``PeerClient``) as in ``test_cancel62_cancelled_fills``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sdex.gossip import NodeKey, PeerClient
from sdex.node.core import Node
from sdex.node.orphans import OrphanCancels
from sdex.order import SignedOrder
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import Api, Cluster, node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import status_at, taken_at
from tests.test_hostile import _raw_signed_post, addressee
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def notice_of(c: Chain, signed: SignedOrder, key: bytes) -> dict[str, str]:
    sig = sign_cancel(c.domain, signed.hash, key)
    return {"orderHash": signed.hash_hex, "signature": "0x" + sig.hex()}


async def relayed(peer: PeerClient, node: Node, api: Api, path: str, body: object) -> int:
    """``body`` posted to ``node``'s ``/p2p/`` ``path``, signed by ``peer`` for it."""
    raw = json.dumps(body).encode()
    return await _raw_signed_post(peer, api.base, path, raw, addressee(node))


async def kept(c: Chain, node: Node, api: Api, withdrawn: SignedOrder) -> None:
    """Alice's cancel of ``withdrawn`` passed on by a peer (a signed client): kept (202)."""
    peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
    notice = notice_of(c, withdrawn, c.keys[ALICE])
    assert await relayed(peer, node, api, "/p2p/cancels", notice) == 200


async def test_an_order_replayed_after_its_cancel_is_taken_cancelled(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer passes on Alice's cancel of an order this node never saw; then anyone posts
    the signed order (a wallet's route) and a crossing bid. Before: 201 open, then matched."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        code = await relayed(
            peer, node, api, "/p2p/cancels", notice_of(c, withdrawn, c.keys[ALICE])
        )
        assert code in (200, 404)  # (404 before: dropped)
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        await taken_at(api, c, withdrawn)
        assert node.records[withdrawn.hash].cancel_signature is not None  # a proof to show


async def test_an_order_pushed_after_its_cancel_is_held_cancelled_not_booked(
    chain: Chain, tmp_path: Path
) -> None:
    """The cancel, then the order by a peer's push (as a delayed push, a snapshot page or an
    anti-entropy fetch bring it): held cancelled, never in the book, served on as cancelled."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        await relayed(peer, node, api, "/p2p/cancels", notice_of(c, withdrawn, c.keys[ALICE]))
        assert await relayed(peer, node, api, "/p2p/orders", {"orders": [withdrawn.to_json()]})
        await wait_for(lambda: node.registry.held(withdrawn.hash), timeout=30)
        assert await status_at(api, withdrawn) == "cancelled"  # before: open
        assert withdrawn.hash not in node.book
        await taken_at(api, c, withdrawn)


async def test_a_cancel_that_overtakes_its_order_between_real_nodes(
    chain: Chain, tmp_path: Path
) -> None:
    """Node 0 holds Alice's order and her cancel while its link to node 1 is down: its
    outbox to node 1 sends the cancel first, then the order. Before, node 1 dropped the
    cancel (404) and booked the order open until an anti-entropy round asked node 0 why it
    lacked it; a wallet's crossing bid at node 1 meanwhile traded it."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        a, b = await warm_then_cut(net, c)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await a.post_order(withdrawn))[0] == 201
        code, body = await a.post(
            f"/v1/orders/{withdrawn.hash_hex}/cancel",
            {"signature": notice_of(c, withdrawn, c.keys[ALICE])["signature"]},
        )
        assert (code, body["status"]) == (200, "cancelled"), body
        await net.cut([0], [1], heal=True)
        await cancel_reached(b, withdrawn)
        await taken_at(b, c, withdrawn)


async def test_a_cancel_made_after_a_peers_link_failed_reaches_it(
    chain: Chain, tmp_path: Path
) -> None:
    """As above, but node 0 has seen its link to node 1 fail before Alice's order comes (node 1
    in a backoff): the order is queued for no one (anti-entropy carries open orders), and the
    cancel went only to a peer in a backoff whose outbox held orders. Node 1 never got it,
    and took the order open when it was posted there (failed under load, and here every time,
    before tests63)."""
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        a, b = await warm_then_cut(net, c)
        await wait_for(lambda: _failing(a, net.urls[1]), timeout=60)  # (its next round's call)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await a.post_order(withdrawn))[0] == 201
        code, body = await a.post(
            f"/v1/orders/{withdrawn.hash_hex}/cancel",
            {"signature": notice_of(c, withdrawn, c.keys[ALICE])["signature"]},
        )
        assert (code, body["status"]) == (200, "cancelled"), body
        await net.cut([0], [1], heal=True)
        await cancel_reached(b, withdrawn)


async def cancel_reached(api: Api, withdrawn: SignedOrder) -> None:
    """Until the node of ``api`` holds ``withdrawn`` (pushed after its cancel: ``cancelled``)
    or keeps a cancel it has no order for; then posted there (anyone's replay), it is taken
    ``cancelled``, never open."""
    seen: list[str | None] = []

    async def arrived() -> bool:
        seen.append(await status_at(api, withdrawn))
        return seen[-1] is not None or (await api.get("/health"))[1]["cancelsKept"]["kept"] > 0

    await wait_for(arrived, timeout=60)
    assert seen[-1] in (None, "cancelled"), seen[-3:]  # before: open until anti-entropy
    code, body = await api.post_order(withdrawn)
    assert body["metaData"]["status"] == "cancelled", (code, body)


async def _peers(api: Api) -> list[dict[str, object]]:
    """The admitted peers ``/health`` lists (its body says them when a degraded chain makes
    it 503, too; none while the node starts)."""
    _, health = await api.get("/health")
    gossip = health.get("gossip") if isinstance(health, dict) else None
    return list(gossip["peers"]) if isinstance(gossip, dict) else []


async def _failing(api: Api, url: str) -> bool:
    """Whether the node of ``api`` has a call to its peer at ``url`` failing (a backoff)."""
    return any(p["url"] == url and p["failures"] for p in await _peers(api))


async def linked(net: Cluster) -> bool:
    """Whether nodes 0 and 1 each list the other as an admitted peer (node 0 admits node 1
    only once its dial-back of node 1's hello answered, which may come after node 1 pulled
    node 0's orders by anti-entropy)."""
    zero = {p["url"] for p in await _peers(net.api(0))}
    one = {p["url"] for p in await _peers(net.api(1))}
    return net.urls[1] in zero and net.urls[0] in one


async def _is(api: Api, signed: SignedOrder, status: str) -> bool:
    return await status_at(api, signed) == status


async def warm_then_cut(net: Cluster, c: Chain) -> tuple[Api, Api]:
    """Node 1 shown to take node 0's gossip (an order of Bob's), each node listing the other
    as a peer (flake66: node 1 held the order while node 0 did not list node 1 yet; cut then,
    node 0 never called node 1: it saw no link fail and queued nothing for it), then their
    link cut: the two nodes' clients."""
    a, b = net.api(0), net.api(1)
    warm = c.sign(ask(c, BOB, E18, 9000 * E6))
    assert (await a.post_order(warm))[0] == 201
    await wait_for(lambda: _is(b, warm, "open"), timeout=60)
    await wait_for(lambda: linked(net), timeout=60)
    await net.cut([0], [1])
    return a, b


async def test_a_flood_of_made_up_cancels_is_bounded_and_keeps_an_honest_one(
    chain: Chain, tmp_path: Path
) -> None:
    """A hostile peer sends well-formed cancels of made-up hashes, many more than a
    sender's share: the node keeps at most that share of them and no more in all, and an
    honest peer's cancel sent before the flood still cancels its order when it comes. A
    cancel signed by someone else than the maker cancels nothing."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        node.orphan_cancels = OrphanCancels(per_sender=50, total=120)  # (the defaults: 1k, 20k)
        assert node.gossip is not None
        honest, hostile = NodeKey.generate().node_id, NodeKey.generate().node_id
        for i, k in enumerate((honest, hostile)):  # admitted (strangers share one count)
            assert node.gossip.peers.admit(k, f"http://127.0.0.{2 + i}:9") is not None
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        notice = notice_of(c, withdrawn, c.keys[ALICE])
        assert node.cancel_notice(notice, honest).status == 202
        for _ in range(1000):
            fake = {"orderHash": "0x" + os.urandom(32).hex(), "signature": notice["signature"]}
            assert node.cancel_notice(fake, hostile).status == 202  # (its oldest go)
        assert len(node.orphan_cancels) == 50 + 1  # the hostile's share, and the honest one
        assert node.orphan_cancels.dropped == 1000 - 50
        health = (await api.get("/health"))[1]["cancelsKept"]
        assert health == {"kept": 51, "dropped": 950}
        forged = c.sign(ask(c, ALICE, E18, 1100 * E6))  # "cancelled" with Bob's key
        assert node.cancel_notice(notice_of(c, forged, c.keys[BOB]), hostile).status == 202
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        code, body = await api.post_order(forged)  # its kept "cancel" is not Alice's
        assert (code, body["metaData"]["status"]) == (201, "open"), body
        taker = c.sign(bid(c, BOB, E18, 1000 * E6))
        code, body = await api.post_order(taker)
        assert withdrawn.hash_hex not in {m["restingOrderHash"] for m in body.get("matches", [])}


async def test_a_kept_cancel_outlives_a_restart(chain: Chain, tmp_path: Path) -> None:
    """The node answered 202 (kept) to a peer's cancel of an order it did not hold, then
    restarted: the order that comes afterwards is still taken cancelled."""
    c = chain
    db = tmp_path / "n.db"
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    async with running_node(node_config(c, db)) as (node, api):
        await kept(c, node, api, withdrawn)
        assert len(node.orphan_cancels) == 1
    async with running_node(node_config(c, db)) as (node, api):
        assert len(node.orphan_cancels) == 1
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        await taken_at(api, c, withdrawn)
    async with running_node(node_config(c, db)) as (node, api):
        assert len(node.orphan_cancels) == 0  # (applied: its row deleted)
        assert await status_at(api, withdrawn) == "cancelled"


def test_the_kept_cancels_bounds_evict_the_largest_sender_first_and_age_out() -> None:
    """Full, the sender holding the most loses its oldest (three flooders cannot push out
    an honest peer's two); a hash takes one signature from each count; an old one is not
    applied."""
    kept = OrphanCancels(per_sender=40, total=100, kept_seconds=60.0)
    honest = [os.urandom(32) for _ in range(2)]
    for h in honest:
        assert kept.keep(h, b"\x01" * 65, "honest", "honest", 0.0)
    for i in range(3 * 200):
        kept.keep(os.urandom(32), b"\x02" * 65, f"liar{i % 3}", f"liar{i % 3}", 1.0)
    assert len(kept) == 100
    assert all(kept.take(h, 2.0) for h in honest)  # (nobody pushed them out)
    shared = os.urandom(32)
    assert [kept.keep(shared, bytes([n]) * 65, "x", "x", 3.0) for n in (3, 4)] == [True, False]
    assert kept.keep(shared, b"\x05" * 65, "y", "y", 3.0)  # (another count's: kept too)
    old = os.urandom(32)
    kept.keep(old, b"\x06" * 65, "honest", "honest", 3.0)
    assert kept.take(old, 100.0) == []  # (past ``kept_seconds``: not applied)
    # 98 liars' and the shared hash's two; the old one evicted a liar's, then was taken
    assert len(kept) == 99


def test_one_peers_fakes_for_a_hash_cannot_keep_an_honest_peers_cancel_of_it_out() -> None:
    """A peer that knows an order's hash before this node holds the order sends fakes for
    it; an honest peer's cancel of the same hash is still kept (before: a hash kept 4
    signatures from anyone, and the forger's 4 refused the honest one: "dropped")."""
    kept = OrphanCancels()
    h = os.urandom(32)
    for n in range(10):
        kept.keep(h, bytes([n + 1]) * 65, "liar", "liar", 0.0)
    real = b"\x7f" * 65
    assert kept.keep(h, real, "honest", "honest", 1.0)
    assert real in [o.signature for o in kept.take(h, 2.0)]
