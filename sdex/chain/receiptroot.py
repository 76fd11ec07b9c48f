"""The ``receiptsRoot`` of a block that holds one transaction alone (``lone_receipt_root``),
from that transaction's receipt: with ``sdex.chain.tx.lone_tx_root`` and a sealed header
(``sdex.mirror.seal.sealed``), a receipt (status, logs, gas) shown to be its block's by one
header read (settle99: a liar would need a Keccak preimage of the block's hash). Not that the
block is the chain's: its teller may name a block hash of its own making and seal a header
for it (review99: ``confirm.proven`` alone confirms only a block the watcher applied).

The trie of one leaf, key ``rlp(0)``, whose value is the receipt as EIP-2718 encodes it: a
typed transaction's (type 1, 2, 3, 4) ``type || rlp([status, cumulativeGasUsed, logsBloom,
logs])``, a legacy one's that list's RLP alone; each log ``[address, topics, data]``. In a
block of one transaction its cumulative gas is the block's ``gasUsed``. The bloom is made
from the logs (``logs_bloom``), never taken from an answer."""

from __future__ import annotations

from collections.abc import Sequence

from eth_hash.auto import keccak

from sdex.chain.receipt import Log, Receipt
from sdex.chain.tx import RlpItem, lone_tx_root, rlp

LEAF_KEY = b"\x20\x80"
"""The hex-prefix encoding of the path of key ``rlp(0)`` (``0x80``) in a leaf: flag 2 (leaf,
even length), then the nibbles 8, 0."""


def logs_bloom(logs: Sequence[Log]) -> bytes:
    """The 2048-bit bloom of ``logs``: for each log's address and each topic, three bits
    from the first six bytes of its Keccak-256 (the yellow paper's M3:2048)."""
    bloom = bytearray(256)
    for entry in logs:
        for item in (bytes.fromhex(entry.address[2:]), *entry.topics):
            h = keccak(item)
            for i in (0, 2, 4):
                bit = ((h[i] << 8) | h[i + 1]) & 2047
                bloom[255 - bit // 8] |= 1 << (bit % 8)
    return bytes(bloom)


def tx_type(raw: bytes) -> int:
    """The EIP-2718 type of the signed transaction ``raw``: its first byte when below
    ``0x7f``, else 0 (a legacy transaction: an RLP list)."""
    return raw[0] if raw and raw[0] < 0x7F else 0


def receipt_bytes(kind: int, status: int, cumulative_gas: int, logs: Sequence[Log]) -> bytes:
    """The receipt as the receipts trie holds it (``kind`` the transaction's type)."""
    items: list[RlpItem] = [[bytes.fromhex(x.address[2:]), list(x.topics), x.data] for x in logs]
    body = rlp([status, cumulative_gas, logs_bloom(logs), items])
    return body if kind == 0 else bytes([kind]) + body


def lone_receipt_root(got: Receipt, kind: int) -> str:
    """The ``receiptsRoot`` of a block holding ``got``'s transaction (of type ``kind``:
    ``tx_type``) alone: ``keccak(rlp([hex-prefix key path, receipt]))``, its status, gas
    (its cumulative gas: the block's ``gasUsed``) and logs in the order given."""
    body = receipt_bytes(kind, got.status, got.gas_used, got.logs)
    return "0x" + keccak(rlp([LEAF_KEY, body])).hex()


def roots_hold(block: object, got: Receipt, raw: bytes) -> bool:
    """Whether ``block`` (an ``eth_getBlockByHash`` answer whose caller proved it sealed:
    ``sdex.mirror.seal.sealed``) is ``got``'s block, holding the signed transaction ``raw``
    alone (``transactionsRoot``) with ``got`` as its receipt (``receiptsRoot``: its status,
    its gas the block's ``gasUsed``, its logs), and ``got``'s logs name that block, that
    transaction and indexes 0, 1, ... (what the root does not hold). Then ``got`` is that
    block's (a liar would need a Keccak preimage), the chain's if the block is (review99: a
    block its teller made up seals as well). Junk: False."""
    if not isinstance(block, dict):
        return False
    try:
        want = (got.block_hash, got.block_number, got.gas_used)
        said = (str(block["hash"]).lower(), int(block["number"], 16), int(block["gasUsed"], 16))
        if said != want or not got.block_hash or keccak(raw) != bytes.fromhex(got.tx_hash[2:]):
            return False
        if any(
            (x.block_number, x.tx_hash.lower(), x.log_index) != (want[1], got.tx_hash.lower(), i)
            for i, x in enumerate(got.logs)
        ):
            return False
        return str(block["transactionsRoot"]).lower() == lone_tx_root(raw) and str(
            block["receiptsRoot"]
        ).lower() == lone_receipt_root(got, tx_type(raw))
    except (KeyError, TypeError, ValueError):
        return False
