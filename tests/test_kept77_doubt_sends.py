"""kept77: nothing signed before the chain's identity came in doubt is sent meanwhile.

gate77 held matching and new signatures while an answer of another chain stands unproven;
what was signed already went on: the lane replaced a pooled settlement at higher fees (and
filled gaps below it) on a chain that may be gone, and a start's reconcile sent a previous
run's settlement again (its ``AsyncSends.on_chain`` reads are two answers of an endpoint that
answers both chains). Now replacements wait while the doubt stands, and nothing is sent
again. Real Hardhat, a real node and SQLite store, a real proxy on loopback whose backend
says another deployment block once a poll in two (gate77's, review74a's lie over and over)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

from sdex.chain.tx import fees_of
from sdex.devnet import Devnet
from sdex.node.config import NodeConfig
from sdex.order import SignedOrder
from sdex.settlement import reconcile
from sdex.store import ChainIdentity, Store
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.rpcfault import Answer, _proxy, flapping_proxy
from tests.test_mirror import synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reorg63_replaced_restart import FEES, OPERATOR, stored_pair
from tests.test_review73_reset_start import _statuses
from tests.test_review74a_flapped_head import _saved_head
from tests.test_review74a_lagging_flap import _forward
from tests.test_settle65_adopt_ioc import stored_pooled
from tests.test_settlement_pooled import at_base_fee, mining


@dataclass
class Doubter:
    """While ``armed``: every other lone "latest" answered from a replica far behind, and
    the watcher's question whether the chain was replaced (its batch with ``eth_getCode``)
    answered another deployment block: the second read, ours, does not repeat it."""

    armed: threading.Event = field(default_factory=threading.Event)
    heads: int = 0
    lies: int = 0
    sent: list[str] = field(default_factory=list)
    """The raw transactions sent through it."""
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def doubting_proxy(c: Chain, cfg: NodeConfig) -> Iterator[tuple[str, Doubter]]:
    d, deploy = Doubter(), hex(cfg.deploy_block)

    def intercept(req: object) -> Answer | None:
        calls = req if isinstance(req, list) else [req]
        for call in calls:
            if isinstance(call, dict) and str(call.get("method", "")).startswith("eth_send"):
                d.sent.append(str((call.get("params") or [""])[0]))
        if not d.armed.is_set():
            return None
        if isinstance(req, dict) and req.get("method") == "eth_getBlockByNumber":
            if req.get("params", [None])[0] != "latest":
                return None
            with d.lock:
                d.heads += 1
                if d.heads % 2:
                    return None
            behind = dict(req, params=[hex(cfg.deploy_block + 1), False])
            status, answer = _forward(c.rpc.url, behind)  # (a replica far behind)
            return status, json.dumps(answer).encode()
        methods = [call.get("method") for call in calls if isinstance(call, dict)]
        if not isinstance(req, list) or "eth_getCode" not in methods:
            return None
        status, answer = _forward(c.rpc.url, req)
        assert isinstance(answer, list)
        for call, a in zip(req, answer, strict=False):
            deployment = call["params"][0] == deploy if call.get("params") else False
            if deployment and isinstance(a.get("result"), dict):
                a["result"]["hash"] = "0x" + "cd" * 32  # (the flapped answer)
                with d.lock:
                    d.lies += 1
        return status, json.dumps(answer).encode()

    with _proxy(c.rpc.url, intercept) as url:
        yield url, d


def ramped_to(c: Chain, base_fee: int) -> None:
    """Empty blocks, each at a base fee 12.5 % over its parent's (EIP-1559's most), up to
    ``base_fee``: a chain that got there as a live one does. The node's mirror reads them
    at its start, so blocks at that fee are within EIP-1559's reach of what it read and
    nothing but the doubt holds the replacement (a jump from a low base fee is believed
    only ~140 blocks later: the test waited ~30 s of paced blocks for it)."""
    fee = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
    while fee < base_fee:
        fee = min(base_fee, fee + fee // 8)
        at_base_fee(fee)(c.rpc)


async def test_a_pooled_settlement_is_not_replaced_while_the_chain_is_in_doubt(
    devnet: Devnet, chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement a previous run left pooled, adopted at the start; the base fee outruns
    its fee cap and blocks go on without it. While the chain is in doubt it is not replaced
    (before: replaced at higher fees, on a chain that may be gone: failed 3 of 3); once
    proven ours it is, and lands once."""
    if devnet.engine != "hardhat":
        pytest.skip("anvil drops it from its pool at the next block (test_settlement_pooled)")
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, store, resting, incoming, _ = stored_pair(c, tmp_path)
    base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
    cap = 2 * FEES[0] + FEES[1]
    high = 100 * max(cap, 2 * base + FEES[1])
    ramped_to(c, high)
    tx = await stored_pooled(c, store, resting, incoming)
    try:
        with doubting_proxy(c, cfg) as (url, d):
            cfg = replace(cfg, rpc=url, new_heads=False, reorg_depth=2)
            async with running_node(cfg) as (node, api):
                assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight
                d.armed.set()
                await wait_for(lambda: node.mirror.doubt.held != "", timeout=30)
                d.sent.clear()  # (the start's send of it again, before the doubt)
                start = int(c.rpc.call("eth_blockNumber"), 16)
                async with mining(c.rpc.url, at_base_fee(high)):
                    await wait_for(
                        lambda: int(c.rpc.call("eth_blockNumber"), 16) >= start + 24, timeout=60
                    )
                    assert node.mirror.doubt.held != ""  # (in doubt all along)
                    assert node.settler.replaced == 0
                    assert d.sent == []  # (nothing sent: neither a replacement nor a gap's)
                    d.armed.clear()  # two polls on our blocks: proven ours, replaced

                    async def filled() -> bool:
                        statuses = {await api.status(resting), await api.status(incoming)}
                        return statuses == {"filled"} and node.settler.idle.is_set()

                    await wait_for(filled, timeout=60.0)
                assert node.mirror.doubt.held == ""
                assert node.settler.replaced >= 1 and node.settler.settled == 1
                assert len(d.sent) >= 1
                db = node.config.db
    finally:
        c.rpc.call("evm_setAutomine", True)
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT tx_hash, status FROM settlements").fetchall())
    assert rows[tx.tx_hash] == "dropped" and "mined" in rows.values()


async def stopped_with_a_pair(
    c: Chain, db: Path
) -> tuple[NodeConfig, int, Store, tuple[SignedOrder, SignedOrder]]:
    """A node's store at ``db`` (its config: the operator's, no head subscription), the
    node run until synced and stopped, then opened again holding a crossing pair of open
    orders: the config, the saved head (its number), the store, the pair (resting,
    incoming)."""
    cfg = replace(node_config(c, db, operator=OPERATOR), new_heads=False)
    async with running_node(cfg) as (node, _):
        await synced(node, c)
    head = _saved_head(cfg.db)
    block = c.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
    store = Store(cfg.db, ChainIdentity(cfg.chain_id, cfg.exchange, block["hash"]), c.domain)
    resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
    incoming = c.sign(bid(c, BOB, E18, 3000 * E6))
    store.add_order(resting, 1, "open", "api")
    store.add_order(incoming, 2, "open", "api")
    return cfg, head, store, (resting, incoming)


async def test_a_previous_runs_settlement_is_not_sent_again_while_the_chain_is_in_doubt(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A settlement a previous run signed and recorded, never sent; the start's check of the
    saved head got another hash, then ours: the chain's identity in doubt. The start's
    reconcile sent it again all the same (``AsyncSends.on_chain``'s two reads of the
    deployment block, both of an endpoint that answered another chain a moment before:
    failed 3 of 3 before, mined). Now it is not sent in the doubt. Not given up either
    (adopt79: kept77 gave it up, "never on any chain", but what the chain says in a doubt
    may be another chain's, and a previous run's bytes pooled on ours then landed beside its
    orders' next match: tests/test_adopt79_doubt_restart.py): adopted, its orders held, and
    once the chain is proven ours its wait sends its bytes (the chain does not know them),
    which settle its matches."""
    monkeypatch.setattr(reconcile, "RESTART_RECEIPT_WAIT", 0.5)
    c = chain
    cfg, head, store, (resting, incoming) = await stopped_with_a_pair(c, tmp_path / "n.db")
    data = c.exchange.encode_settlement([(resting, incoming, E18)])
    tx = c.sender(OPERATOR).sign(c.exchange.address, data, 400_000, fees=FEES)
    pairs = [(resting.hash_hex, incoming.hash_hex)]
    await asyncio.wrap_future(store.add_settlement(tx.tx_hash, tx.nonce, tx.raw, pairs))
    store.close()
    with flapping_proxy(c.rpc.url, head, "0x" + "ef" * 32) as (url, told):
        async with running_node(replace(cfg, rpc=url)) as (node, api):
            assert told == [1] and node.mirror.doubt.doubts == 1  # (in doubt at the start)
            assert c.rpc.call("eth_getTransactionByHash", tx.tx_hash) is None  # (not sent)
            assert _statuses(cfg.db) == ["pending"]  # (adopt79: was "dropped")
            assert node.settler.adopted == 1 and tx.tx_hash in node.settler.in_flight

            async def filled() -> bool:  # (proven ours: its own bytes sent, settled)
                return {await api.status(resting), await api.status(incoming)} == {"filled"}

            await wait_for(filled, timeout=60)
            assert node.mirror.doubt.held == ""
            assert node.settler.sent == 0  # (its orders never matched again)
    assert c.rpc.call("eth_getTransactionReceipt", tx.tx_hash)["status"] == "0x1"
    assert _statuses(cfg.db) == ["mined"]
