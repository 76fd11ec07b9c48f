"""cancel65: a wallet's soft cancel of an order the node does not hold (yet) is kept, as a
peer's is (cancel63), and the order is taken ``cancelled`` when it comes, and its cancel
passed on to the peers then, checked.

A wallet that posts its order to node A and cancels it at node B before gossip brought it
there was answered 404: the cancel dropped, the order then came to B, was booked open and
traded there (and A, never told, traded it too). Real Hardhat; real ``sdex node``
processes with their gossip link cut and healed, or a node on loopback and its SQLite store
across a restart."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sdex.order import SignedOrder
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import Api, Cluster, node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import taken_at
from tests.test_cancel63_cancel_before_order import _is, warm_then_cut
from tests.test_node import ALICE, BOB, E6, E18, ask


async def cancel_posted(
    api: Api, c: Chain, signed: SignedOrder, key: int
) -> tuple[int, dict[str, object]]:
    sig = sign_cancel(c.domain, signed.hash, c.keys[key])
    return await api.post(f"/v1/orders/{signed.hash_hex}/cancel", {"signature": "0x" + sig.hex()})


async def test_a_wallets_cancel_at_a_node_the_order_has_not_reached_yet_holds(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with Cluster(c, tmp_path, [[], [0]]) as net:
        a, b = await warm_then_cut(net, c)  # (gossip late: the order not at node 1 yet)
        withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
        assert (await a.post_order(withdrawn))[0] == 201
        code, body = await cancel_posted(b, c, withdrawn, ALICE)  # at the other node
        assert (code, body) == (202, {"orderHash": withdrawn.hash_hex, "status": "kept"})
        await net.cut([0], [1], heal=True)  # the order comes to node 1: held cancelled
        await wait_for(lambda: _is(b, withdrawn, "cancelled"), timeout=60)  # before: open
        # and node 1 passes the cancel on, checked now: node 0, where it was posted, too
        await wait_for(lambda: _is(a, withdrawn, "cancelled"), timeout=60)
        await taken_at(b, c, withdrawn)
        await taken_at(a, c, withdrawn)


async def test_a_kept_wallet_cancel_outlives_a_restart_and_binds_only_its_maker(
    chain: Chain, tmp_path: Path
) -> None:
    """Kept once committed (a 202 is not lost to a restart); a cancel signed by another key
    than the maker's cancels nothing when the order comes; bytes no key signed are a 400."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db")
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    other = c.sign(ask(c, ALICE, E18, 1100 * E6))
    async with running_node(cfg) as (node, api):
        assert (await cancel_posted(api, c, withdrawn, ALICE))[0] == 202
        assert (await cancel_posted(api, c, other, BOB))[0] == 202  # (whose: known later)
        code, body = await api.post(
            f"/v1/orders/{other.hash_hex}/cancel", {"signature": "0x" + "00" * 65}
        )
        assert code == 400 and body["validationErrors"][0]["field"] == "signature", body
        assert len(node.orphan_cancels) == 2
    async with running_node(cfg) as (node, api):
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body
        code, body = await api.post_order(other)  # Bob's "cancel" of Alice's order
        assert (code, body["metaData"]["status"]) == (201, "open"), body
        assert withdrawn.hash not in node.book
        await taken_at(api, c, withdrawn)


async def test_a_kept_cancel_two_hours_old_still_cancels_its_order(
    chain: Chain, tmp_path: Path
) -> None:
    """Kept a day, not an hour: a hostile holder of the signed order that replays it two
    hours after the cancel (the store's clock of it moved back two hours while the node is
    down, a restart reads it back) finds it cancelled. Before: forgotten, the order open."""
    c = chain
    db = tmp_path / "n.db"
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    async with running_node(node_config(c, db)) as (_, api):
        assert (await cancel_posted(api, c, withdrawn, ALICE))[0] == 202
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE orphan_cancels SET at = at - 7200")
    async with running_node(node_config(c, db)) as (_, api):
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: open
        await taken_at(api, c, withdrawn)
