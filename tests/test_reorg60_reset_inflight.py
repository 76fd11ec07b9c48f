"""reorg60: a chain reset (the devnet's chain restarted: a new genesis, everything deployed
again at the same addresses) while the node's settlement of a match is signed and sent but
not mined. The old chain's transaction is valid on the new one (the same chain id, the same
Exchange, the operator's nonce the same after the deployment): sent again there, it would
settle an old chain's match on a chain whose book never made it. The node must not send it
again (nor sign the old match anew): on the new chain the orders stay unfilled and the
operator's nonce where the deployment left it. Real chain of its own (the suite's engine),
restarted on its port; a real node and SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdex.chainnode import Engine
from tests.conftest import chain_of
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_chain_outage import OwnChain
from tests.test_node import ALICE, BOB, E6, E18, ask, bid


def nonce(rpc: Any, address: str, tag: str = "latest") -> int:
    return int(rpc.call("eth_getTransactionCount", address, tag), 16)


@pytest.mark.parametrize("taken", [False, True], ids=["nonce-free", "nonce-taken"])
async def test_a_reset_does_not_send_the_old_chains_settlement_again(
    tmp_path: Path, taken: bool, engine: Engine
) -> None:
    """``taken``: the operator's key sent a transaction of its own on the new chain (its
    nonce, the old settlement's, used there): a refusal for the nonce, then the same
    matches signed again at the chain's count, must not happen for an old chain's match."""
    net = OwnChain("reset-inflight", engine)
    try:
        c = chain_of(net.rpc, net.deploy())
        cfg = node_config(c, tmp_path / "n.db")
        operator = c.address(19)
        async with running_node(cfg) as (node, api):
            w = node.watcher
            resting = c.sign(ask(c, ALICE, E18, 3000 * E6))
            assert (await api.post_taken(resting))[0] == 201
            c.rpc.call("evm_setAutomine", False)  # the settlement sent, not mined
            before = nonce(c.rpc, operator)
            taker = c.sign(bid(c, BOB, E18, 3000 * E6))
            code, body = await api.post_taken(taker, "ioc")
            assert code == 201 and len(body["matches"]) == 1, body
            await wait_for(lambda: nonce(c.rpc, operator, "pending") > before, timeout=30)
            pending = c.rpc.call("eth_getBlockByNumber", "pending", False)["transactions"]
            assert pending
            # the send over: a chain that serves sync sends (anvil) holds one until it is
            # mined or ``SYNC_TIMEOUT`` passes (a chain that does not: sent plainly)
            b = node.settler.broadcaster
            await wait_for(lambda: b.sync is False or b.sync_timeouts >= 1)

            net.stop()  # the devnet restarted: its mempool gone with its chain
            rpc = net.start_again()
            dep2 = net.deploy()
            assert dep2.exchange == c.deployment.exchange
            c2 = chain_of(rpc, dep2)
            assert nonce(rpc, operator) == before  # (the old transaction's nonce is free here)
            if taken:
                c2.exchange.cancel_orders_up_to(c2.sender(19), 1)  # (the operator's own)
            deployed = nonce(rpc, operator)
            await wait_for(lambda: w.resets >= 1, timeout=60)
            await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
            # a block or two of the new chain's, as its users' sends make them
            for _ in range(3):
                rpc.call("evm_mine")
                head = int(rpc.call("eth_blockNumber"), 16)
                await wait_for(lambda h=head: w.chain_head >= h, timeout=30)  # type: ignore[misc]
            await wait_for(lambda: node.settler.idle.is_set(), timeout=60)
            for tx in pending:
                assert rpc.call("eth_getTransactionByHash", tx) is None, tx  # never sent again
            assert nonce(rpc, operator, "pending") == deployed
            assert c2.exchange.order_info(resting.order).filled == 0
            assert c2.exchange.order_info(taker.order).filled == 0
            assert await api.status(resting) == "open"
    finally:
        net.stop()
