"""A start's pending row's receipt read, believed and recorded (``sdex.settlement.reconcile``,
the node's adoption and ``mark_unread``; split from ``sdex.settlement.reconcile`` at its line
cap). Believed as the live wait believes one (``sdex.settlement.receipts``' ``believed``): its
logs account for the row's matches (``outcome.unaccounted_pairs``; edge94) and a read on a
connection of its own gives it too (``sdex.settlement.confirm``; settle93). settle96: the
restart's paths believed one read, through the pooled client a sticky balancer pins to one
backend: a lie of "reverted" about a pooled row marked it ``failed``, its orders matched
again at the next nonce behind it (a paid revert); one of "mined" marked it ``mined``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sdex.chain import Receipt
from sdex.errors import ChainError
from sdex.settlement.confirm import CONFIRM_WAIT, Tally, confirmed, rejudged
from sdex.settlement.lane import NonceLane
from sdex.settlement.outcome import unaccounted_pairs
from sdex.settlement.rowtally import row_tally

log = logging.getLogger("sdex.settlement")
START_CONFIRM_WAIT = CONFIRM_WAIT
"""Seconds a start's phase (the reconcile, the adoption) spends on its rows' confirming reads
in all (``believed``'s ``until``): past it a row's receipt is not believed, nothing asked (its
wait confirms it). restart97: each row's read up to ``CONFIRM_WAIT``, twice a row, one row
after the other: a start behind a confirming read that hangs took ~20 s a pending row."""


def start_bound() -> float:
    """(The loop's clock) When a start's phase begun now stops confirming its rows' receipts."""
    return asyncio.get_running_loop().time() + START_CONFIRM_WAIT


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


async def believed(
    lane: NonceLane,
    got: Receipt,
    pairs: Sequence[tuple[str, str]] | None,
    told: bool = False,
    until: float | None = None,
) -> bool:
    """Whether ``got``, a start's pending row's receipt read through the lane's client, is
    believed: its logs account for the row's matches (``pairs``, as stored: resting,
    incoming; None: not known, not looked at) and a read on a connection of its own gives it
    too (``confirm.confirmed``: ``CONFIRM_READS`` in a row, none ever denying it, the reads
    of earlier calls for its transaction counted: ``row_tally``). Not: the row is judged as
    one whose receipt was not read.
    ``told``: said before (``mark_unread``'s tries, a second apart): said at debug
    (review96a: a warning each second while the confirming read failed). ``until``: the
    loop's time the confirming read must end by (a start's: ``start_bound``); past it, not
    believed, nothing asked."""
    if pairs is not None:
        try:
            named = [(_hash(a), _hash(b)) for a, b in pairs]
        except ValueError as e:
            why = f"its stored pairs do not read: {e}"
        else:
            why = unaccounted_pairs(lane.chain.exchange, named, got)
        if why:
            log.warning("the receipt of pending settlement %s (block %d) not believed: %s",
                        got.tx_hash, got.block_number, why)  # fmt: skip
            return False
    tally = row_tally(lane, got.tx_hash)  # (a denial kept across tries: ``REJUDGE_AFTER``)
    rejudged(tally, got, lane.mirror)
    left = CONFIRM_WAIT if until is None else until - asyncio.get_running_loop().time()
    if left > 0 and await _confirmed_by(lane, got, tally, left):
        return True
    (log.debug if told else log.warning)(
        "the receipt of pending settlement %s (block %d, status %d) not given again on a"
        " connection of its own%s: not believed", got.tx_hash, got.block_number, got.status,
        "" if left > 0 else " (the start's confirming reads past their bound, not asked)",
    )  # fmt: skip
    return False


async def _confirmed_by(lane: NonceLane, got: Receipt, tally: Tally, left: float) -> bool:
    """``confirm.confirmed`` within ``left`` seconds in all (its ``CONFIRM_READS`` reads one
    after another, each bounded by ``CONFIRM_WAIT``: a start's bound is the whole call's)."""
    try:
        async with asyncio.timeout(left):
            return await confirmed(lane.receipts, got, min(CONFIRM_WAIT, left), tally=tally)
    except TimeoutError:
        return False


def _hash(name: str) -> bytes:
    """A stored pair's order hash (0x and hex) as bytes."""
    return bytes.fromhex(name.removeprefix("0x"))


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
