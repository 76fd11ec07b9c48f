"""Peers' settlement notices (``POST /p2p/settlements``) cost the node's chain endpoint a
bounded number of receipt reads (``sdex.node.refused.Notices``): a stranger's flood of
made-up transaction hashes spends a budget for all peers, not one read each, and a
transaction a notice applied is not read again. A real node on loopback, real Hardhat."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from sdex.gossip import NodeKey, PeerClient
from sdex.node.refused import NOTICE_READS
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_hostile import _raw_signed_post, addressee

READ = "eth_getTransactionReceipt"


def a_successful_tx(chain: Chain) -> str:
    """The hash of a mined transaction that succeeded (the latest blocks, bounded)."""
    head = int(chain.rpc.call("eth_blockNumber"), 16)
    for n in range(head, max(head - 200, 0), -1):
        for tx in chain.rpc.call("eth_getBlockByNumber", hex(n), False)["transactions"]:
            if int(chain.rpc.call(READ, tx)["status"], 16) == 1:
                return str(tx)
    raise AssertionError("no successful transaction in the last 200 blocks")


async def test_settlement_notices_cost_bounded_receipt_reads(chain: Chain, tmp_path: Path) -> None:
    tx = a_successful_tx(chain)
    async with running_node(node_config(chain, tmp_path / "n.db")) as (node, api):
        url = api.base
        stranger = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")

        async def notice(tx_hash: str, sender: PeerClient = stranger) -> int:
            body = json.dumps({"txHash": tx_hash}).encode()
            return await _raw_signed_post(sender, url, "/p2p/settlements", body, addressee(node))

        # the same settled transaction, told by 40 peers (each its own key): read once
        before = node.rpc.calls[READ]
        for _ in range(40):
            peer = PeerClient(api.session, NodeKey.generate(), "http://127.0.0.1:9")
            assert await notice(tx, peer) == 200
        assert node.rpc.calls[READ] - before == 1

        # 600 made-up hashes as fast as a stranger may send them: the reads stay within
        # the budget for all peers' notices, not one each
        before, started = node.rpc.calls[READ], time.monotonic()
        made_up = ["0x" + i.to_bytes(32, "big").hex() for i in range(1, 601)]
        for k in range(0, len(made_up), 20):
            codes = await asyncio.gather(*(notice(h) for h in made_up[k : k + 20]))
            assert set(codes) == {200}
        elapsed = time.monotonic() - started
        reads = node.rpc.calls[READ] - before
        assert reads <= NOTICE_READS.burst + NOTICE_READS.rate * elapsed + 1, (reads, elapsed)
        # the node still serves (its chain endpoint was not flooded on the stranger's word)
        status, health = await api.get("/health")
        assert status == 200 and health["status"] == "ok"
