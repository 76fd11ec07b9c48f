"""review64: an attacker's look at the cancels kept for orders not held yet (cancel63).

Real Hardhat; a node on loopback whose peer is a signed client (``PeerClient``), as in
``test_cancel63_cancel_before_order``."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sdex.chain.tx import already_known
from sdex.errors import RpcError
from sdex.gossip import NodeKey, PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_api_writes import refuse
from tests.test_attack38_soft_cancel_sync import cancel_at, taken_at
from tests.test_audit62_cancel_kept import audit, broken, meta_at
from tests.test_cancel63_cancel_before_order import kept, notice_of, relayed
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs
from tests.test_settlement_pipeline import post_all

__all__ = ["held_chain"]  # (the fixture, used by name)


async def test_a_peers_cancel_of_a_hash_of_another_length_is_refused_not_kept(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer's cancel notice names an "order hash" of 16 KB (the body's bound is 64 KB):
    no order has such a hash, so it can cancel nothing. Before, only the signature's form
    was checked: it was kept (202: 200 over the wire) in memory and as a row of 32 KB of
    hex, 20,000 of them at most (~0.6 GB of disk a flood); now refused as malformed."""
    c = chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
        real = notice_of(c, c.sign(ask(c, ALICE, E18, 1000 * E6)), c.keys[ALICE])
        huge = {"orderHash": "0x" + "ab" * 16_384, "signature": real["signature"]}
        short = {"orderHash": "0x" + "ab" * 31, "signature": real["signature"]}
        codes = [await relayed(peer, node, api, "/p2p/cancels", n) for n in (huge, short)]
        assert codes == [400, 400]  # before: [200, 200], both kept
        assert len(node.orphan_cancels) == 0
        assert (await api.get("/health"))[1]["cancelsKept"]["kept"] == 0
        assert await relayed(peer, node, api, "/p2p/cancels", real) == 200  # (32 bytes: kept)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT length(order_hash) FROM orphan_cancels").fetchall()
    assert rows == [(66,)]


async def test_a_cancel_taken_while_the_next_nonce_is_unknown_names_one_past_those_signed(
    held_chain: Chain, tmp_path: Path
) -> None:
    """A settlement of Alice's ask is pooled (signed, sent, not mined); the chain rewinds a
    block the node had applied (a reorg, or a devnet's revert) and the node forgets its next
    nonce, to read it again at its next signature; Alice cancels; then the pooled settlement
    lands. It was signed before the cancel: the node kept its word. Before, the cancel named
    no nonce (``cancelledAtNonce`` null: the next was not known), the audit then took the
    operator's transaction count at the cancel's block, which the pooled settlement's nonce
    equals, and flagged the honest node (``node_settled_after_cancel``)."""
    c = held_chain
    db = tmp_path / "n.db"
    async with running_node(node_config(c, db)) as (node, api):
        snap = c.rpc.call("evm_snapshot")
        c.rpc.call("evm_mine")  # a block the node applies, undone below
        await synced(node, c)
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))
        await post_all(api, [half, c.sign(bid(c, BOB, E18, 1000 * E6))])
        await wait_for(lambda: pending_txs(c) == 1, timeout=30)
        with sqlite3.connect(db) as conn:
            (raw,) = conn.execute(
                "SELECT raw_tx FROM settlements WHERE status='pending'"
            ).fetchone()
        assert c.rpc.call("evm_revert", snap)
        try:  # (Hardhat's revert emptied its pool: back in it)
            c.rpc.call("eth_sendRawTransaction", raw)
        except RpcError as e:  # (anvil's revert kept its pool: "already imported")
            if not already_known(e):
                raise
        await wait_for(lambda: node.sender.next_nonce is None, timeout=30)  # the rewind seen
        await cancel_at(api, c, half, ALICE)
        meta = await meta_at(api, half.hash_hex)
        signed_before = int(
            c.rpc.call("eth_getTransactionCount", node.sender.address, "pending"), 16
        )
        c.rpc.call("evm_mine")  # the settlement signed before the cancel lands
        await wait_for(lambda: c.exchange.order_info(half.order).filled == E18, timeout=30)
        await synced(node, c)
        report = await audit(c, api)
        assert broken(report) == [], report.to_json()  # before: the honest node flagged
        assert meta.get("cancelledAtNonce") == signed_before  # before: none named


async def test_a_kept_cancel_outlives_its_orders_refused_row_and_a_restart(
    chain: Chain, tmp_path: Path
) -> None:
    """A peer's cancel is kept (202), then its order comes and is held cancelled, but the
    store refuses the order's row (a real SQLite trigger: a write that fails alone, as a
    full disk's may). Before, the kept cancel's row was deleted first, whatever became of
    the order's: after a restart (before the eviction wrote the row again) neither was
    stored, and the order posted again was booked open. Now the kept cancel's row goes only
    once the order's rows are committed."""
    c = chain
    db = tmp_path / "n.db"
    withdrawn = c.sign(ask(c, ALICE, E18, 1000 * E6))
    async with running_node(node_config(c, db)) as (node, api):
        await kept(c, node, api, withdrawn)
        await refuse(
            node,
            "CREATE TRIGGER no_row BEFORE INSERT ON orders WHEN NEW.hash ="
            f" '{withdrawn.hash_hex.lower()}' BEGIN SELECT RAISE(ABORT, 'refused here'); END",
        )
        code, body = await api.post_order(withdrawn)
        assert code == 503, body  # (its row refused: not answered 2xx)
        assert node.records[withdrawn.hash].status.value == "cancelled"
        await asyncio.wrap_future(node.store._writer.submit(lambda db: None))  # (all written)
        await refuse(node, "DROP TRIGGER no_row")  # (the store works again)
    async with running_node(node_config(c, db)) as (node, api):
        code, body = await api.post_order(withdrawn)
        assert (code, body["metaData"]["status"]) == (200, "cancelled"), body  # before: 201
        await taken_at(api, c, withdrawn)
