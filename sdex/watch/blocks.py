"""The watcher's reading of a range of blocks: what makes a read inconsistent or a reorg, and
which blocks' logs the node's own settlement receipts already carry."""

from __future__ import annotations

from sdex.errors import ChainError
from sdex.mirror import Effects, Header, Mirror, OwnReceipt


class Reorg(Exception):
    """The chain no longer has our head."""


class Inconsistent(ChainError):
    """The chain moved during a read (logs of a block we have another header for)."""


class Contradicted(Inconsistent):
    """The chain has no block at the number of a header the newHeads feed announced, or has
    it with another ``baseFeePerGas`` (``lag`` False: no backend's lag explains that): the
    feed lies, or is broken (``sdex.watch.feed``: not listened to for a while)."""

    def __init__(self, header: Header, why: str = "", lag: bool = True) -> None:
        why = why or "the chain has no such block"
        super().__init__(f"block {header.number} announced, and {why}")
        self.header = header
        self.lag = lag


class ReceiptComing(Inconsistent):
    """An own settlement's receipt is on its way: its block is read once it is here (a
    wait bounded by ``Mirror.awaiting``, no sign of a chain answering inconsistently)."""


ZERO_HASH = "0x" + "00" * 32
ANNOUNCED_KEPT = 64
"""Announced headers the watcher keeps by number, for ``own_run``."""


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
            raise ReceiptComing(f"own settlement {tx}: its receipt is on its way")
        r = mirror.own.get(tx.lower())
        if r is None or r.block_hash != header.hash:
            return None
        mine.append(r)
    return mine


def own_alone(mirror: Mirror, header: Header) -> OwnReceipt | None:
    """Our settlement's decoded receipt when ``header``'s ``transactionsRoot`` says the
    block holds that transaction alone (``sdex.chain.tx.lone_tx_root``); else None. An
    announced header whose hash is not of its fields (``Header.sealed``) is none: its stamp
    would be the feed's word (watch89: a forged one closed resting orders as expired)."""
    if not header.tx_root or not header.sealed:
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


def unannounced(mirror: Mirror, announced: dict[int, Header]) -> frozenset[str]:
    """The blocks (hashes) of our receipts above the mirror's head that no newHeads
    notification has announced yet. A poll our receipt woke, while newHeads is live, waits
    a moment (``RECEIPT_WAIT``, once a block) for the announcement, whose header it then
    need not ask for: on automine each settlement is a block, and the receipt often reaches
    the node before that block's announcement. Receipts the settler holds while it confirms
    them (``Mirror.confirming``) too: their wake-up asked for "latest" (watch96)."""
    head = mirror.head
    if head is None or not (mirror.own or mirror.confirms):
        return frozenset()
    seen = {h.hash for h in announced.values() if h.number > head.number}
    held = [(r.block_hash, r.block_number) for r in mirror.own.values()]
    held += [(r.block_hash, r.block_number) for r, _ in mirror.confirms.values()]
    return frozenset(h for h, n in held if n > head.number) - seen


def known_parent(parent: str) -> bool:
    """Hardhat's ``hardhat_mine`` leaves a zero parent hash in the blocks it mines at
    once: such a link cannot be checked (our head's hash is re-read instead)."""
    return parent != ZERO_HASH


def own_run(
    mirror: Mirror, announced: dict[int, Header], top: Header, latest: Header
) -> list[tuple[Header, OwnReceipt]] | None:
    """Blocks ``top``+1 .. ``latest`` (two or more) when each was announced, each says the
    one before is its parent, from ``top`` to ``latest``, and each holds our settlement
    alone (``own_alone``): their receipts, with nothing to read. None otherwise. (A watcher
    that lags behind a chain mining our settlements one a block, Hardhat's automine, would
    read every header again.)"""
    if not 2 <= latest.number - top.number <= ANNOUNCED_KEPT:
        return None
    run: list[tuple[Header, OwnReceipt]] = []
    parent = top.hash
    for n in range(top.number + 1, latest.number + 1):
        h = announced.get(n)
        if h is None or not known_parent(h.parent) or h.parent != parent:
            return None
        alone = own_alone(mirror, h)
        if alone is None:
            return None
        run.append((h, alone))
        parent = h.hash
    return run if parent == latest.hash else None


def apply_run(mirror: Mirror, run: list[tuple[Header, OwnReceipt]], eff: Effects) -> None:
    """Apply an ``own_run``'s blocks in order (their effects into ``eff``)."""
    for h, r in run:
        eff.merge(mirror.apply(h, [], h, [r]))


def remember(announced: dict[int, Header], header: Header) -> None:
    """Keep ``header`` by number, and only numbers within ``ANNOUNCED_KEPT`` of it, below or
    above (an endpoint announcing ever lower numbers, or resetting, grows nothing)."""
    announced[header.number] = header
    low, high = header.number - ANNOUNCED_KEPT, header.number + ANNOUNCED_KEPT
    for n in [n for n in announced if n <= low or n > high]:
        del announced[n]
