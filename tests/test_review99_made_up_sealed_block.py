"""review99: settle99's ``proven`` (one read of the receipt's block header, sealed, holding our
transaction alone with the receipt as its ``receiptsRoot``) confirmed a receipt of a block the
liar made up: the liar that tells the receipt chooses the block hash it names, so it seals a
header of its own making (any parent, state root, number) with our transaction's
``transactionsRoot`` and its receipt's ``receiptsRoot``, no Keccak preimage needed. A sealed
header proves the receipt is that block's, not that the block is the chain's: one read apart
reaching the liar (behind a round-robin balancer, one in two) counted a pooled settlement
mined, where confirm97 asked ``CONFIRM_READS`` in a row.

Now ``proven`` confirms alone only a block the watcher applied at that number with that hash
(``Mirror.hash_at``); another counts as one read apart giving it (``Tally.agree``).

Real Hardhat mining only when told (the settlement pools); a real node and SQLite store behind
settle89's real loopback balancer, round robin over two backends from the moment the
settlement pooled, the lying backend first: it answers the settlement's receipt with one of
a block of its own making at the next number (status 1, the pair's two ``OrderFilled``
logs), and that block's sealed header by its hash; the other backend is the chain."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sdex.chain import Receipt
from sdex.chain.receiptroot import logs_bloom, lone_receipt_root, roots_hold, tx_type
from sdex.chain.rpc import quantity
from sdex.chain.tx import RlpItem, lone_tx_root, rlp
from sdex.keccak import keccak
from sdex.mirror.seal import FIELDS, LATER, _item, sealed
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.test_confirm97_round_robin_liar import round_robin_liar
from tests.test_node import ALICE, BOB, E6, E18, ask, bid
from tests.test_reconcile77_too_high import pooling
from tests.test_settle89_sticky_receipt import pooled_behind_sticky
from tests.test_settle93_sticky_receipt import _fill, counted_once_mined, told_receipt

__all__ = ["pooling"]

LIES = 6
"""Receipts the liar told before the test looks (before: the first read apart, the liar's,
made a settlement)."""


def seal(header: dict[str, object]) -> str:
    """The hash of ``header``'s fields (``sdex.mirror.seal``'s RLP of them)."""
    items: list[RlpItem] = []
    for name, kind in (*FIELDS, *LATER):
        if name in header:
            item = _item(header[name], kind)
            assert item is not None, name
            items.append(item)
    return "0x" + keccak(rlp(items)).hex()


async def test_a_liars_sealed_block_of_its_own_making_counts_no_pooled_settlement_mined(
    pooling: Chain, tmp_path: Path
) -> None:
    c = pooling
    maker = c.sign(ask(c, ALICE, E18, 3000 * E6))
    taker = c.sign(bid(c, BOB, E18, 3000 * E6))
    lies: list[int] = []  # (receipts told)
    confirms: list[int] = []  # (the liar's header answered to a confirming read)
    honest: list[int] = []  # (confirming reads that reached the chain)
    backend: dict[int, int] = {}  # (a connection's backend by its client port: 0 the liar)
    async with pooled_behind_sticky(c, tmp_path, maker, taker) as (b, node, api, count):
        s, m = node.settler, node.mirror
        operator = node.sender.address
        [tx] = s.in_flight
        with sqlite3.connect(f"file:{tmp_path / 'n.db'}?mode=ro", uri=True) as conn:
            [(raw,)] = conn.execute("SELECT raw_tx FROM settlements WHERE tx_hash=?", (tx,))
        signed = bytes.fromhex(raw[2:])
        head = quantity(c.rpc.call("eth_blockNumber"))
        await wait_for(lambda: m.head is not None and m.head.number >= head, timeout=30)
        at = head + 1  # (a block the watcher has not read: it cannot say)
        logs = [_fill(c, maker, taker, 0, at - 1, tx), _fill(c, taker, maker, 1, at - 1, tx)]
        told = told_receipt(c, tx, operator, at, "0x" + "00" * 32, logs, "0x" + "00" * 256)
        parent = c.rpc.call("eth_getBlockByNumber", hex(head), False)
        got = Receipt.from_rpc(told)
        header = {
            k: v for k, v in parent.items() if k in {n for n, _ in (*FIELDS, *LATER)}
        }  # (the liar's: the chain's head's fields, its own roots, number and gas)
        header.update(
            parentHash=parent["hash"], number=hex(at), gasUsed=hex(got.gas_used),
            transactionsRoot=lone_tx_root(signed),
            receiptsRoot=lone_receipt_root(got, tx_type(signed)),
            logsBloom="0x" + logs_bloom(got.logs).hex(),
        )  # fmt: skip
        fake = seal(header)
        block = {**header, "hash": fake, "transactions": [tx], "uncles": [], "size": "0x300"}
        told["blockHash"] = fake
        for lg in logs:
            lg["blockHash"] = fake  # type: ignore[index]
        told["logsBloom"] = block["logsBloom"]
        assert sealed(block) and roots_hold(block, Receipt.from_rpc(told), signed)
        lying = [True]  # (emptied: the liar out)
        opened = len(b.ports)

        seen = (lies, confirms, honest)
        answer = round_robin_liar(backend, fake, block, tx, told, lying, seen, opened)
        backend.update((p, 0) for p in b.ports)  # (the connections open now: the liar's)
        b.answer = answer
        # before: the watcher silent for WATCH_FIRST (its block not read), the first read
        # apart reached the liar, whose sealed header held the receipt: counted mined
        await counted_once_mined(
            c, node, api, maker, count, lambda: len(lies) >= LIES, lying.clear,
            lies, confirms, honest,
        )  # fmt: skip
    mined = c.rpc.call("eth_getTransactionReceipt", tx)
    assert mined["blockHash"] != fake and quantity(mined["status"]) == 1
    assert c.exchange.order_info(maker.order).filled == E18
