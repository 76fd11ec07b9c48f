"""A peer's settlement notice makes the node read the transaction's receipt from its chain
endpoint; an answer there that is no receipt (a broken or hostile endpoint: a status that
is a JSON number, logs that are not a list of logs) is believed in nothing: the notice is
answered ``applied: false`` and the node serves on. Before, ``int(status, 16)`` and
``Log.from_rpc`` raised TypeError out of the peer's request (review26's leftover). A real
node on loopback behind a proxy that answers that one read, real Hardhat."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.gossip import NodeKey, PeerClient
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_hostile_quantity import answering
from tests.test_node_restart import OPERATOR, _left_by_a_dead_node
from tests.test_settlement_notices import a_successful_tx

LOG = {
    "address": "0x" + "11" * 20,
    "topics": [],
    "data": "0x",
    "blockNumber": "0x1",
    "transactionHash": "0x" + "22" * 32,
    "logIndex": "0x0",
}
RECEIPTS = [
    ("status a number", {"status": 1, "logs": []}),
    ("status a list", {"status": ["0x1"], "logs": []}),
    ("logs a string", {"status": "0x1", "logs": "abc"}),
    ("logs of numbers", {"status": "0x1", "logs": [5]}),
    ("a log without its index", {"status": "0x1", "logs": [{**LOG, "logIndex": None}]}),
    ("a log's data not hex", {"status": "0x1", "logs": [{**LOG, "data": 7}]}),
]


@pytest.mark.parametrize("receipt", [r[1] for r in RECEIPTS], ids=[r[0] for r in RECEIPTS])
async def test_a_receipt_that_is_none_applies_nothing(
    chain: Chain, tmp_path: Path, receipt: dict[str, object]
) -> None:
    tx = a_successful_tx(chain)
    with answering(chain.deployment.rpc, "eth_getTransactionReceipt", receipt) as rpc:
        async with running_node(replace(node_config(chain, tmp_path / "n.db"), rpc=rpc)) as (
            node,
            api,
        ):
            assert node.gossip is not None
            peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
            body = json.dumps({"txHash": tx}).encode()
            to = node.gossip.key.node_id
            headers = peer.key.request_headers("POST", "/p2p/settlements", body, peer.me, to)
            headers["Content-Type"] = "application/json"
            async with api.session.post(
                api.base + "/p2p/settlements", data=body, headers=headers
            ) as r:
                assert (r.status, await r.json()) == (200, {"applied": False})
            status, health = await api.get("/health")
            assert status == 200 and health["status"] == "ok"


@pytest.mark.parametrize("receipt", [r[1] for r in RECEIPTS[:3]], ids=[r[0] for r in RECEIPTS[:3]])
async def test_a_pending_settlement_whose_receipt_is_none_is_not_a_failed_start(
    chain: Chain, tmp_path: Path, receipt: dict[str, object]
) -> None:
    """A node that died with a settlement recorded restarts and reads its receipt: an answer
    that is no receipt leaves the settlement pending (the watcher applies it from its block)
    and the node starts; before, ``int(status, 16)`` raised out of the start."""
    c = chain
    cfg = node_config(c, tmp_path / "n.db", operator=OPERATOR)
    _, _, signed = await _left_by_a_dead_node(c, cfg, "open", "gtc")
    c.rpc.call("eth_sendRawTransaction", signed.raw)  # (mined: the node died after sending)
    with answering(c.deployment.rpc, "eth_getTransactionReceipt", receipt) as rpc:
        async with running_node(replace(cfg, rpc=rpc)) as (node, api):
            assert node.started.is_set()
            assert [s.tx_hash for s in node.store.pending_settlements()] == [signed.tx_hash]
            assert (await api.get("/health"))[0] == 200
