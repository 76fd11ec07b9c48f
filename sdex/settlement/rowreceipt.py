"""A start's pending row's receipt read and recorded (``sdex.settlement.reconcile``, the
node's adoption and ``mark_unread``; split from ``sdex.settlement.reconcile`` at its line cap).
"""

from __future__ import annotations

from sdex.chain import Receipt
from sdex.errors import ChainError
from sdex.settlement.lane import NonceLane


def receipt_of(answer: object) -> Receipt | None:
    """An ``eth_getTransactionReceipt`` answer's receipt (None: not mined); ``ValueError``
    for one that is no receipt."""
    if answer is None:
        return None
    if not isinstance(answer, dict):
        raise ValueError(f"a receipt that is a {type(answer).__name__}")
    return Receipt.from_rpc(answer)


async def landed(lane: NonceLane, tx_hash: str) -> Receipt | None:
    """``tx_hash``'s receipt read now (None: not mined); the read's errors raised."""
    return receipt_of(await lane.receipts.call("eth_getTransactionReceipt", tx_hash))


async def record_landed(lane: NonceLane, tx_hash: str, got: Receipt) -> None:
    """A pending row whose transaction has ``got`` for its receipt: marked as it says, the
    matches it settled counted (``NonceLane.settled``: the run that saw it land counts it;
    settle83: the start's reconcile and adoption counted none, an adopted row's result did)
    once the mark is stored: a refused one (``StoreError``) counts nothing and leaves the row
    pending, to be marked again (held86: a held start's adoption tries it again)."""
    lane.ours.landed(tx_hash, got.block_number)
    await lane.store.set_settlement_status(tx_hash, "mined" if got.status == 1 else "failed")
    lane.settled += settled_in(lane, got)


def settled_in(lane: NonceLane, got: Receipt) -> int:
    """Matches the transaction of ``got`` settled: its Exchange's fills, two a match (none if
    it reverted, or a log of them does not read)."""
    if got.status != 1:
        return 0
    try:
        return len(lane.chain.exchange.fills(got.logs)) // 2
    except ChainError:
        return 0
