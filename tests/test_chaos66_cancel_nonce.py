"""chaos66: a soft cancel taken by a node restarted onto a reorg, before it signs anything,
names where the operator's nonce stands, so the audit does not hold the node's earlier
settlement against it.

chaos52's seed 2 (node 0): the node settled half of an ask (nonce 4, block 124), was killed,
restarted; a reorg then took its saved head (after a restart only the saved head is known:
a reset, the chain read anew from the deployment block) and the ask's soft cancel came 0.4 s
later, while the watcher stood at block 0. The cancel named block 0 and no nonce (the process
had signed none: ``Sender.signed_past`` None), so ``sdex audit`` took the operator's count at
block 0 (0) and flagged the settlement of block 124, signed 14 s before the cancel, as
``node_settled_after_cancel``: an honest node reported as breaking its word.

Real Hardhat (``evm_snapshot``/``evm_revert`` while the node is down), a real node and SQLite
store, the audit over its HTTP API; a real JSON-RPC proxy on loopback that refuses the
watcher's ``eth_getLogs`` holds the reset at the deployment block while the cancel is taken
(the race of the chaos run, made certain)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sdex.audit import audit_network
from sdex.wallet import sign_cancel
from tests.conftest import Chain
from tests.logsproxy import logs_proxy
from tests.nodeutil import node_config, running_node, wait_for
from tests.reorgutil import no_kept_blocks, settled
from tests.test_mirror import meta, revert, synced
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


async def test_a_cancel_at_a_reset_after_a_restart_names_the_operators_nonce(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    resting = c.sign(ask(c, ALICE, 2 * E18, 6000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    async with logs_proxy(c.rpc.url, "infura", 10**9) as proxy:
        cfg = node_config(c, tmp_path / "n.db", rpc=proxy.url, new_heads=False)
        async with running_node(cfg) as (node, api):
            operator = node.sender.address
            assert (await api.post_order(resting))[0] == 201
            assert (await api.post_order(taker))[0] == 201
            await settled(c, node, api, resting)
            assert (await meta(api, resting))["filledMakerAmount"] == str(E18)
            settled_at = node.watcher.block
            snap = c.rpc.call("evm_snapshot")
            c.rpc.call("hardhat_mine", "0x2")
            await synced(node, c)  # (its saved head above the snapshot)
        revert(c, snap)  # while the node is down: its saved head off the chain
        no_kept_blocks(cfg.db)  # (the start resets, its subject: watch81's undoes them)
        c.rpc.call("evm_increaseTime", 7)  # (empty blocks of other stamps: other hashes)
        c.rpc.call("hardhat_mine", "0x3")
        sent = int(c.rpc.call("eth_getTransactionCount", operator, "pending"), 16)
        assert sent >= 1
        proxy.below = settled_at  # (the watcher's read anew held below the settlement)
        async with running_node(cfg) as (node, api):
            await wait_for(lambda: node.watcher.resets >= 1 and proxy.refused >= 1, timeout=20)
            assert node.watcher.block < settled_at  # (the chain read anew from the start)
            sig = sign_cancel(c.domain, resting.hash, c.keys[ALICE])
            url = f"/v1/orders/{resting.hash_hex}/cancel"
            code, body = await api.post(url, {"signature": "0x" + sig.hex()})
            assert code == 200, body
            proxy.below = 0
            await synced(node, c)
            urls = [f"http://127.0.0.1:{node.config.port}"]
            report = await asyncio.to_thread(audit_network, c.deployment, urls)
            # before: node_settled_after_cancel (no nonce named: the count at block 0 taken)
            assert report.ok, [d.to_json() for d in report.discrepancies]
            assert body.get("cancelledAtNonce") == sent, body
