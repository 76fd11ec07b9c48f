"""confirm98 (left45, "Settlement confirmation"): ``gas_believed`` took the gas of a believed
receipt from any sealed header holding our transaction alone with that receipt, of a block the
watcher had not read (``Mirror.hash_at`` None): the liar that tells the receipt names a block
hash of its choice and seals a header of its own making (review99's), so a made-up
``gasUsed`` was learned (``BatchGas.learn``: smaller batches at higher limits). Now its
block must be the one the watcher applied at its number (``confirm.applied``, its head there
waited for).

Real Hardhat (automine); a real node in this process behind settle89's real loopback
balancer, which answers the liar's sealed block (the head's fields, our transfer's
``transactionsRoot``, its receipt's with a higher ``gasUsed``, at the next number) by its
hash; the gas read asked of that receipt as the settler asks it of a believed one."""

from __future__ import annotations

from pathlib import Path

from sdex.chain import Receipt
from sdex.chain.receiptroot import logs_bloom, lone_receipt_root, roots_hold, tx_type
from sdex.chain.rpc import quantity
from sdex.chain.tx import lone_tx_root
from sdex.mirror.seal import FIELDS, LATER, sealed
from sdex.settlement.confirm import gas_believed
from tests.conftest import Chain
from tests.madeupblock import MadeUpBlock, behind_liar
from tests.nodeutil import wait_for
from tests.test_node import ALICE
from tests.test_review99_made_up_sealed_block import seal

MORE = 50_000
"""Gas the liar adds to the receipt's."""


async def test_a_made_up_sealed_blocks_gas_is_not_learned(chain: Chain, tmp_path: Path) -> None:
    c = chain
    alice = c.sender(ALICE)
    signed = alice.sign(c.weth.address, c.weth.abi.fn("transfer").encode(c.address(9), 1), 100_000)
    alice.broadcast(signed)
    alice.wait(signed.tx_hash)
    real = c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
    head = quantity(c.rpc.call("eth_blockNumber"))
    at = head + 1  # (a block the watcher has not read)
    raw = bytes.fromhex(signed.raw[2:])
    parent = c.rpc.call("eth_getBlockByNumber", hex(head), False)
    lied = Receipt.from_rpc({**real, "gasUsed": hex(quantity(real["gasUsed"]) + MORE)})
    header = {k: v for k, v in parent.items() if k in {n for n, _ in (*FIELDS, *LATER)}}
    header.update(
        parentHash=parent["hash"], number=hex(at), gasUsed=hex(lied.gas_used),
        transactionsRoot=lone_tx_root(raw), receiptsRoot=lone_receipt_root(lied, tx_type(raw)),
        logsBloom="0x" + logs_bloom(lied.logs).hex(),
    )  # fmt: skip
    fake = seal(header)
    block = {**header, "hash": fake, "transactions": [signed.tx_hash], "uncles": []}
    logs = [{**lg, "blockHash": fake, "blockNumber": hex(at)} for lg in real["logs"]]
    told = {**real, "gasUsed": hex(lied.gas_used), "blockHash": fake, "blockNumber": hex(at)}
    got = Receipt.from_rpc({**told, "logs": logs})
    assert sealed(block) and roots_hold(block, got, raw)  # (the liar's block holds it)
    async with behind_liar(c, tmp_path, MadeUpBlock(fake, block)) as node:
        m = node.mirror
        await wait_for(lambda: m.head is not None and m.head.number >= head, timeout=30)
        assert m.hash_at(at) is None  # (not read: before, taken as unknown)
        c.rpc.call("evm_mine")  # (the chain's block at that number: the watcher reads it)
        # before: the liar's sealed header read apart, its gas learned
        assert not await gas_believed(node.settler.receipts, got, signed.raw, m, 10.0)
        assert m.hash_at(at) not in (None, fake)
