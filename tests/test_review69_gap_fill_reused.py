"""review69a: the lane's gap filler (``NonceLane._heal_gap``) fills a lost transaction's nonce
with a transfer of nothing when the chain has not used it and later ones of the lane are
out. It asked whether the *lost* transaction was pooled, not whether the lane had signed
another at that nonce since: after its nonce was read again from the chain (a chain reset
behind the URL, a reorg, a failed send: ``forget_nonce``), the lane's next settlement took
the nonce the lost one had left free in the pool. The filler, signed at the fees of now,
displaced that settlement from the pool (its matches lost for a transfer the operator pays:
left61's harm by another way). Now a nonce the pool holds a transaction at (the chain's
pending count past it) is not filled.

Real Hardhat mining only when told, the node's settler on it with its own SQLite store."""

from __future__ import annotations

from pathlib import Path

from sdex.chain.tx import fees_of
from sdex.settlement.gas import GAP_FILL_GAS
from tests.conftest import Chain
from tests.test_settlement_fallback import running_settler


async def test_the_gap_filler_does_not_displace_a_settlement_signed_at_the_lost_nonce(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with running_settler(c, tmp_path) as (settler, _):
        sender = settler.sender
        me = sender.address
        base = fees_of(c.rpc.call("eth_getBlockByNumber", "latest", False))[0]
        c.rpc.call("evm_setAutomine", False)
        try:
            n = int(c.rpc.call("eth_getTransactionCount", me, "latest"), 16)
            lost = sender.sign_at(n, me, b"", GAP_FILL_GAS, fees=(base, 1))  # (never reached it)
            # the lane's nonce read again: its next two signed at n and n + 1, pooled (a low
            # tip: the filler, at the fees of now, would outbid them)
            taken = sender.sign_at(n, c.address(1), b"", GAP_FILL_GAS, fees=(base, 1))
            after = sender.sign_at(n + 1, c.address(1), b"", GAP_FILL_GAS, fees=(base, 1))
            for tx in (taken, after):
                c.rpc.call("eth_sendRawTransaction", tx.raw)
            sender.forget_nonce()
            sender.learn_nonce(n + 2)
            await settler._heal_gap(lost)
            assert settler.gap_fills == 0  # before: 1, the filler sent at n
            pooled = c.rpc.call("eth_getTransactionByHash", taken.tx_hash)
            assert pooled is not None and pooled["blockNumber"] is None  # before: displaced
            c.rpc.call("evm_mine")
            receipt = c.rpc.call("eth_getTransactionReceipt", taken.tx_hash)
            assert receipt is not None and receipt["status"] == "0x1"
        finally:
            c.rpc.call("evm_setAutomine", True)
