"""audit62: ``sdex audit`` reports a node that settled a match of an order after it took the
order's soft cancel (``node_cancel_kept``: ``node_settled_after_cancel``).

cancel62 made a soft-cancelled order's record follow the chain's filled amount (the cancel
binds the nodes, not the chain), so ``fill_after_node_closed`` no longer saw a node that
broke its word: its record equals the chain. Now the node keeps where it stood when it took
the cancel (``metaData.cancelledAtBlock``, ``cancelledAtNonce``: its checkpoint block and
its operator's next settlement nonce), and the audit flags a fill of the order mined after
that block by a transaction the node's operator signed at or above that nonce; not one in
flight at the cancel (a lower nonce), nor anyone else's fill (the wallet's own
``fillOrder``). Real Hardhat, a real node on loopback, the audit run against it; and a real
SQLite store from before the columns."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sdex.audit import AuditReport, ChainFacts, ClosedEntry, Facts, NodeFacts, audit_network
from sdex.audit.findings import FactsIndex
from sdex.audit.nodechecks import check_node_cancel_kept
from sdex.model import FillEvent
from sdex.order import ZERO_ADDRESS, Domain
from sdex.store import Store
from sdex.storeschema import ORDER_COLUMNS
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.nodeutil import Api, node_config, running_node, wait_for
from tests.test_attack38_soft_cancel_sync import cancel_at, status_at
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, CAROL, E6, E18, ask, bid
from tests.test_reorg60_cancel_inflight import held_chain, pending_txs

__all__ = ["held_chain"]  # (the fixture, used by name)

OPERATOR = 19  # node_config's operator key


async def meta_at(api: Api, order_hash: str) -> dict[str, object]:
    code, rec = await api.get(f"/v1/orders/{order_hash}")
    assert code == 200, rec
    meta = rec["metaData"]
    assert isinstance(meta, dict)
    return meta


def broken(report: AuditReport) -> list[tuple[str | None, str | None, str | None]]:
    return [
        (d.order_hash, d.tx_hash, d.node)
        for r in report.checks
        for d in r.discrepancies
        if d.kind == "node_settled_after_cancel"
    ]


async def audit(c: Chain, api: Api) -> AuditReport:
    return await asyncio.to_thread(audit_network, c.deployment, [api.base], sync_timeout=10.0)


async def test_a_match_the_node_settles_after_the_cancel_is_flagged_the_wallets_fill_not(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    cfg = node_config(c, tmp_path / "n.db", closed_grace=0.2)
    async with running_node(cfg) as (node, api):
        # the node settles a match first: its operator's next nonce is known at the cancel
        first = c.sign(ask(c, CAROL, E18, 1000 * E6))
        assert (await api.post_taken(first))[0] == 201
        assert (await api.post_taken(c.sign(bid(c, BOB, E18, 1000 * E6))))[0] == 201
        await wait_for(lambda: c.exchange.order_info(first.order).filled == E18, timeout=60)
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await api.post_taken(half))[0] == 201
        head = int(c.rpc.call("eth_blockNumber"), 16)
        await wait_for(lambda: node.watcher.block >= head, timeout=30)  # (saved: its checkpoint)
        code, answer = await api.post(
            f"/v1/orders/{half.hash_hex}/cancel",
            {"signature": "0x" + sign_cancel(c.domain, half.hash, c.keys[ALICE]).hex()},
        )
        assert (code, answer["status"]) == (200, "cancelled"), answer
        nonce = int(c.rpc.call("eth_getTransactionCount", c.address(OPERATOR), "pending"), 16)
        at = {"cancelledAtBlock": head, "cancelledAtNonce": nonce}
        assert {k: answer.get(k) for k in at} == at, answer  # (the wallet may keep it)
        meta = await meta_at(api, half.hash_hex)
        assert {k: meta.get(k) for k in at} == at, meta
        # the wallet's own fill after the cancel: a real trade, nobody's broken word
        c.exchange.fill_order(c.sender(CAROL), half, 500 * E6)
        # the node's key signs a match of it after the cancel (as a node that ignored the
        # cancel, or its operator outside it, would)
        match = c.exchange.match_orders(
            c.sender(OPERATOR), half, c.sign(bid(c, BOB, E18, 1000 * E6))
        )
        assert c.exchange.order_info(half.order).filled == E18 + E18 // 2
        await synced(node, c)
        await wait_for(lambda: node.registry.get(half.hash) is None, timeout=30)  # evicted
        assert (await meta_at(api, half.hash_hex))["cancelledAtBlock"] == head  # (stored)
        report = await audit(c, api)
    assert broken(report) == [(half.hash_hex, match.tx_hash, api.base)], report.to_json()
    assert report.kinds() == {"node_settled_after_cancel"}, report.to_json()  # before: ok


async def test_a_match_in_flight_at_the_cancel_is_not_flagged(
    held_chain: Chain, tmp_path: Path
) -> None:
    c = held_chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        half = c.sign(ask(c, ALICE, 2 * E18, 2000 * E6))  # 2 WETH at 1000
        assert (await api.post_taken(half))[0] == 201
        assert (await api.post_taken(c.sign(bid(c, BOB, E18, 1000 * E6))))[0] == 201
        await wait_for(lambda: pending_txs(c) > 0, timeout=60)  # the node's settlement: sent
        await cancel_at(api, c, half, ALICE)
        meta = await meta_at(api, half.hash_hex)
        assert isinstance(meta["cancelledAtNonce"], int), meta
        c.rpc.call("evm_mine")  # the fill lands in a block after the cancel's
        await wait_for(lambda: c.exchange.order_info(half.order).filled == E18, timeout=30)
        await synced(node, c)
        assert await status_at(api, half) == "cancelled"
        report = await audit(c, api)
    assert broken(report) == [], report.to_json()
    assert report.to_json()["checked"]["node_cancel_kept"] == 1
    assert report.ok, report.to_json()


def test_a_store_from_before_gets_the_cancel_columns(tmp_path: Path) -> None:
    from tests.test_store37_taker_column import DOMAIN, IDENTITY

    path = tmp_path / "node.db"
    Store(path, IDENTITY, DOMAIN).close()
    with sqlite3.connect(path) as db:  # the orders table as before audit62
        for name in ("cancel_block", "cancel_nonce"):
            db.execute(f"ALTER TABLE orders DROP COLUMN {name}")
    Store(path, IDENTITY, DOMAIN).close()
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
    assert set(ORDER_COLUMNS) <= columns


# -- the rule, on facts fed directly (the audit's middle stage: no I/O) -------------------

OP, OTHER = "0x" + "19" * 20, "0x" + "ca" * 20
ORDER = bytes([7]) * 32


def _fill(block: int, tx: str) -> FillEvent:
    return FillEvent(ORDER, OTHER, OTHER, 10, 10, ZERO_ADDRESS, 0, block, tx, 0)


@pytest.mark.parametrize(
    ("cancel", "signer", "nonce", "block", "kind"),
    [
        ((100, 5), OP, 5, 101, "node_settled_after_cancel"),  # signed after the cancel
        ((100, 5), OP, 4, 101, None),  # in flight: signed before, mined after
        ((100, 5), OP, 5, 100, None),  # in the cancel's block: the node had not seen it
        ((100, 5), OTHER, 9, 101, None),  # anyone else's fill: the wallet's own
        ((100, None), OP, 3, 101, "node_settled_after_cancel"),  # no nonce: count at 100 is 3
        ((100, None), OP, 2, 101, None),
        ((900, 5), OP, 5, 950, "node_cancel_block_ahead"),  # beyond the chain's head 500
    ],
)
def test_the_rule(
    cancel: tuple[int, int | None], signer: str, nonce: int, block: int, kind: str | None
) -> None:
    chain = ChainFacts(domain=Domain(31337, OTHER), from_block=1, head=500)
    chain.fills = [_fill(block, "0xab")]
    chain.senders = {"0xab": (signer, nonce)}
    chain.nonces_at = {(OP, 100): 3}
    node = NodeFacts("http://n", operator=OP)
    node.closed[ORDER] = ClosedEntry(ORDER, "cancelled", "soft cancel", 10, 0, *cancel)
    facts = Facts(chain=chain, nodes=[node])
    result = check_node_cancel_kept(facts, FactsIndex(facts))
    assert [d.kind for d in result.discrepancies] == ([kind] if kind else [])
    assert result.checked == 1
