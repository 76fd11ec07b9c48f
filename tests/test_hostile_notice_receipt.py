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
            _node,
            api,
        ):
            peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
            body = json.dumps({"txHash": tx}).encode()
            headers = peer.key.request_headers("POST", "/p2p/settlements", body, peer.me)
            headers["Content-Type"] = "application/json"
            async with api.session.post(
                api.base + "/p2p/settlements", data=body, headers=headers
            ) as r:
                assert (r.status, await r.json()) == (200, {"applied": False})
            status, health = await api.get("/health")
            assert status == 200 and health["status"] == "ok"
