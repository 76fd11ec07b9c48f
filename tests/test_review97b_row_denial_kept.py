"""review97b (restart path): a start's row's receipt (``rowreceipt.believed``: the node's
adoption, ``mark_unread``'s tries a second apart) was confirmed with a fresh ``Tally`` at each
call: a read apart that denied it was forgotten by the next try, whose two reads in a row, both
placed on the backend that told it (a round-robin balancer), believed it. Now the reads of
earlier calls for its transaction count (``row_tally``): one denial bars it till
``REJUDGE_AFTER``.

Real Hardhat (automine); a real node in this process behind settle89's real loopback balancer,
which answers a made-up block (a mined transfer's block under another hash: its transaction
and bloom) by that hash once told to lie, and passes the rest on (the chain has no such
block: its answer null, its head past the number)."""

from __future__ import annotations

from pathlib import Path

from sdex.chain import Receipt
from sdex.keccak import keccak
from sdex.settlement.confirm import holds
from sdex.settlement.rowreceipt import believed
from tests.conftest import Chain
from tests.madeupblock import MadeUpBlock, behind_liar
from tests.test_node import ALICE


async def test_a_row_receipt_denied_once_is_not_believed_on_the_next_try(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    alice = c.sender(ALICE)
    data = c.weth.abi.fn("transfer").encode(c.address(9), 1)
    signed = alice.sign(c.weth.address, data, 100_000)
    alice.broadcast(signed)
    alice.wait(signed.tx_hash)
    real = c.rpc.call("eth_getTransactionReceipt", signed.tx_hash)
    assert real is not None and real["logs"], real
    fake = "0x" + keccak(b"a block no chain has").hex()
    told = {**real, "blockHash": fake}
    block = {**c.rpc.call("eth_getBlockByHash", real["blockHash"], False), "hash": fake}
    got = Receipt.from_rpc(told)
    assert holds(block, got)  # (the liar's block gives its receipt)
    liar = MadeUpBlock(fake, block, lying=False)
    async with behind_liar(c, tmp_path, liar) as node:
        assert not await believed(node.settler, got, None)  # (a read reached the chain)
        assert liar.denied
        liar.lying = True  # (every read from here on placed on the liar)
        # before: a fresh tally, two reads in a row giving it: believed
        assert not await believed(node.settler, got, None, True)
        assert not await believed(node.settler, got, None, True)
