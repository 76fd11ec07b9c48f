"""settle93 (small92's left): the node's settler, not ``lost_to_fill`` alone, behind a sticky
balancer whose lagging backend counts no transaction pooled at a lost settlement's nonce: its
gap filler (``NonceLane._heal_gap``) does not displace the settlement the lane signed there
since (review69a's case, small92's second read on a connection of its own).

Before small92, the settler's one read through its pooled client had the nonce filled by a
transfer of nothing at the fees of now, which displaced the pooled settlement (its matches
lost for a transfer the operator pays).

Real Hardhat mining only when told; the node's settler (its own SQLite store, its chain
reads on its own thread) behind settle89's real loopback balancer, served from a thread
(``sticky_in_a_thread``): the connections open at the first ask of the pending count answer
it without the pooled ones; connections opened since reach the chain."""

from __future__ import annotations

from pathlib import Path

from sdex.chain import Rpc
from sdex.chain.tx import fees_of
from sdex.settlement.gas import GAP_FILL_GAS
from tests.conftest import Chain, chain_of
from tests.test_reconcile77_too_high import pooling
from tests.test_reorg60_reset_inflight import nonce
from tests.test_settle89_sticky_receipt import liar_at_first_ask, pending_count
from tests.test_settle90_sticky_loss import sticky_in_a_thread
from tests.test_settlement_fallback import running_settler

__all__ = ["pooling"]


async def test_a_sticky_backends_count_has_the_settler_displace_no_pooled_settlement(
    pooling: Chain, tmp_path: Path
) -> None:
    chain = pooling
    lies: list[int] = []
    with sticky_in_a_thread(chain.rpc.url) as b:
        c = chain_of(Rpc(b.url), chain.deployment)
        async with running_settler(c, tmp_path) as (settler, _):
            sender = settler.sender
            me = sender.address
            base = fees_of(chain.rpc.call("eth_getBlockByNumber", "latest", False))[0]
            chain.rpc.call("evm_setAutomine", False)
            n = nonce(chain.rpc, me)
            lost = sender.sign_at(n, me, b"", GAP_FILL_GAS, fees=(base, 1))  # (never sent)
            # the lane's nonce read again: its next two signed at n and n + 1, pooled (a low
            # tip: the filler, at the fees of now, would outbid them)
            taken = sender.sign_at(n, chain.address(1), b"", GAP_FILL_GAS, fees=(base, 1))
            after = sender.sign_at(n + 1, chain.address(1), b"", GAP_FILL_GAS, fees=(base, 1))
            for tx in (taken, after):
                chain.rpc.call("eth_sendRawTransaction", tx.raw)
            assert nonce(chain.rpc, me, "pending") == n + 2
            sender.forget_nonce()
            sender.learn_nonce(n + 2)

            # (a backend that lags: none pooled)
            b.answer = liar_at_first_ask(b, pending_count(me), hex(n), lies)
            await settler._heal_gap(lost)
            assert lies, "the lie not told"
            assert settler.gap_fills == 0  # (before small92: 1, the filler sent at n)
            pooled = chain.rpc.call("eth_getTransactionByHash", taken.tx_hash)
            assert pooled is not None and pooled["blockNumber"] is None  # (not displaced)
            chain.rpc.call("evm_mine")
            receipt = chain.rpc.call("eth_getTransactionReceipt", taken.tx_hash)
            assert receipt is not None and receipt["status"] == "0x1"
