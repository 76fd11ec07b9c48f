"""settle89 (left41, "Settlement"): the node's ``Sender`` reads no fee of its own.

``Sender.sign`` without ``fees`` read the latest block's base fee itself, bounded by the
ceiling alone (``MAX_BASE_FEE``): one lying answer under it was signed with. The settler
never signs so (its ``Fees`` are bounded by the mirror's reads: bounds84, fee86-fee88), but
nothing kept a node path from it. Now the fee read of the latest block alone is
``sdex.chain.fees.latest_fees``, off the node only (``sdex devnet``'s deployment, a user's
on-chain cancel, tests), and the node's sender (``reads_fees=False``) refuses a signature
without fees given, touching no nonce. Real Hardhat, a real node in this process behind a
real loopback proxy whose answers to a read of the latest block lie about its fee while the
test says so."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from sdex.chain import Rpc, Sender
from sdex.errors import ChainError
from tests.conftest import Chain
from tests.headsproxy import latest_read
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import answering

LIE = 50_000 * 10**9
"""The latest block's base fee as the lying answers say it: under the ceiling."""


async def test_the_nodes_sender_signs_with_no_fee_it_read_itself(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    lying = threading.Event()

    def answer(call: object) -> dict[str, object] | None:
        if not (lying.is_set() and isinstance(call, dict) and latest_read(call)):
            return None
        block = c.rpc.call("eth_getBlockByNumber", "latest", False)
        return {
            "jsonrpc": "2.0",
            "id": call.get("id"),
            "result": {**block, "baseFeePerGas": hex(LIE)},
        }

    with answering(c, answer) as url:
        async with running_node(node_config(c, tmp_path / "n.db", rpc=url)) as (node, _):
            await wait_for(lambda: node.watcher.status == "ok", 60)
            sender = node.sender
            before = (sender.next_nonce, sender.signed_past)
            lying.set()
            try:
                # (before: signed with the lie's fee, the fee cap twice 50,000 gwei)
                with pytest.raises(ChainError, match="no fees given"):
                    await asyncio.to_thread(sender.sign, c.address(2), b"", 21_000)
            finally:
                lying.clear()
            assert (sender.next_nonce, sender.signed_past) == before  # (no nonce taken)
        # off the node (a user's own key, its endpoint's word: the ceiling its only bound)
        rpc = Rpc(url)
        try:
            lying.set()
            own = Sender(rpc, c.keys[7], c.deployment.chain_id)
            assert own.sign(c.address(2), b"", 21_000).fees[0] == LIE
        finally:
            lying.clear()
            rpc.close()
