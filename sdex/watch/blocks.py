"""The watcher's reading of a range of blocks: what makes a read inconsistent or a reorg, and
which blocks' logs the node's own settlement receipts already carry."""

from __future__ import annotations

from sdex.errors import ChainError
from sdex.mirror import Header, Mirror, OwnReceipt


class Reorg(Exception):
    """The chain no longer has our head."""


class Inconsistent(ChainError):
    """The chain moved during a read (logs of a block we have another header for)."""


ZERO_HASH = "0x" + "00" * 32


def own_receipt(mirror: Mirror, raw: object) -> OwnReceipt | None:
    """The node's own decoded receipt this raw log belongs to, if it is one of its block."""
    if not mirror.own or not isinstance(raw, dict):
        return None
    tx = raw.get("transactionHash")
    r = mirror.own.get(tx.lower()) if isinstance(tx, str) else None
    if r is None or str(raw.get("blockHash", "")).lower() != r.block_hash:
        return None
    return r


def log_filter(start: int, end: int, address: list[str]) -> dict[str, object]:
    return {"fromBlock": hex(start), "toBlock": hex(end), "address": address}


def only_own(mirror: Mirror, raw: object, header: Header) -> list[OwnReceipt] | None:
    """The decoded receipts of block ``raw`` (``header``) when it holds only settlements of
    this node whose receipts the mirror has, for this very block (or no transaction at
    all): its logs need not be read. None when it holds anything else. Raises
    ``Inconsistent`` for an own settlement whose receipt is on its way."""
    txs = raw.get("transactions") if isinstance(raw, dict) else None
    if not isinstance(txs, list):
        return None
    mine = []
    for tx in txs:
        if not isinstance(tx, str):
            return None
        if mirror.awaiting(tx):
            raise Inconsistent(f"own settlement {tx}: its receipt is on its way")
        r = mirror.own.get(tx.lower())
        if r is None or r.block_hash != header.hash:
            return None
        mine.append(r)
    return mine


def own_alone(mirror: Mirror, header: Header) -> OwnReceipt | None:
    """Our settlement's decoded receipt when ``header``'s ``transactionsRoot`` says the
    block holds that transaction alone (``sdex.chain.tx.lone_tx_root``); else None."""
    if not header.tx_root:
        return None
    mine = [r for r in mirror.own.values() if r.block_hash == header.hash]
    return mine[0] if len(mine) == 1 and mine[0].tx_root == header.tx_root else None


def receipt_coming(mirror: Mirror, header: Header) -> bool:
    """Whether a block announced on top of the mirror's head is worth a moment's wait: a
    receipt of ours on its way may show it holds our settlement alone (``own_alone``)."""
    head = mirror.head
    if not header.tx_root or head is None or header.number != head.number + 1:
        return False
    if header.parent != head.hash or any(r.block_hash == header.hash for r in mirror.own.values()):
        return False
    return any(mirror.awaiting(tx) for tx in mirror.expected)


def known_parent(parent: str) -> bool:
    """Hardhat's ``hardhat_mine`` leaves a zero parent hash in the blocks it mines at
    once: such a link cannot be checked (our head's hash is re-read instead)."""
    return parent != ZERO_HASH
