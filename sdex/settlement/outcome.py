"""What the chain did with each match of a settlement transaction, from its receipt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sdex.chain import Exchange, FillEvent, Receipt
from sdex.errors import ChainError, ContractRevert, ExchangeError
from sdex.fillmath import MatchAmounts
from sdex.matching.match import Match
from sdex.model import SettleOutcome

Outcome = SettleOutcome
"""(``sdex.model.SettleOutcome``, under the name the settler has always exported.)"""


@dataclass(frozen=True, slots=True)
class SettledMatch:
    """What the chain did with one match: ``actual`` amounts when settled, else the reason."""

    match: Match
    outcome: Outcome
    actual: MatchAmounts | None
    tx_hash: str | None
    reason: str = ""
    fills: tuple[FillEvent, ...] = ()
    """The two ``OrderFilled`` events of a settled match (resting order's first)."""
    unsent: bool = False
    """Failed before any broadcast (its settlement record could not be stored): the chain
    never saw it, so it says nothing about either order (no diagnosis, no failure counted)."""
    withdrawn: bool = False
    """Never signed: an order of it was soft-cancelled while it waited (``unsent`` too;
    ``sdex.settlement.take``)."""
    nonce_taken: bool = False
    """Lost because the chain refused its nonce at every try (another sender of the
    operator's key kept taking it, or the lane's nonce kept running past the chain's
    count), or displaced by the lane's own transfer of nothing (signed for a chain since
    replaced, pooled on the new one: ``sdex.settlement.stale``; settle77): the node's
    trouble, which says nothing against either order (no failure counted; attack28)."""
    withheld: bool = False
    """Never sent (again): a transfer of nothing of the node's took its nonce instead
    (``BatchTx._landing``), counted in /health's ``settlementsWithheldCancelled``, not in
    ``matchesFailed`` (settle89: counted in both)."""
    refused: bytes | None = None
    """The order a pre-flight's revert names as refused by its signature
    (``InvalidSignature``; ``refused_order``)."""
    block: int | None = None
    """The block a pre-flight that failed ran at (never sent): what its evidence is read at
    (blame44: read at "latest", an account moved out for the pre-flight and back more than
    ``RECENT_BLOCKS`` before the reads looked untouched)."""


def outcome(
    ex: Exchange,
    batch: Sequence[Match],
    receipt: Receipt,
    tx_hash: str,
    fills: Sequence[FillEvent] = (),
) -> list[SettledMatch]:
    """Pair each match with its fills (``fills``: the receipt's, decoded once), or with its
    ``MatchSkipped`` reason. ``Unaccounted`` for a receipt whose logs do not account for
    ``batch`` (``unaccounted``: its wait judges such a receipt not confirmed and reads it
    again, ``poll_receipt``'s ``whole``; edge94: one with fewer fills raised IndexError)."""
    if receipt.status != 1:
        return [
            SettledMatch(m, Outcome.FAILED, None, tx_hash, "transaction reverted") for m in batch
        ]
    skipped = {s.index: s for s in ex.skipped(receipt.logs)}
    if why := accounted(hashed(batch), skipped.keys(), fills):
        raise Unaccounted(f"the receipt of {tx_hash} does not account for its matches: {why}")
    out: list[SettledMatch] = []
    k = 0
    for i, m in enumerate(batch):
        if i in skipped:
            out.append(SettledMatch(m, Outcome.FAILED, None, tx_hash, str(skipped[i].reason)))
            continue
        left, right = fills[k], fills[k + 1]
        k += 2
        actual = MatchAmounts(left.maker_filled, right.maker_filled, left.fee, right.fee)
        out.append(SettledMatch(m, Outcome.SETTLED, actual, tx_hash, fills=(left, right)))
    return out


class Unaccounted(ChainError):
    """A status 1 receipt whose logs do not account for its settlement's matches."""


def unaccounted(ex: Exchange, batch: Sequence[Match], receipt: Receipt) -> str:
    """What is wrong with ``receipt`` as the one of ``batch``'s settlement ("": nothing, or
    status 0): a status 1 one must hold a ``MatchSkipped`` of each match the chain skipped
    (none past the batch) and the two ``OrderFilled`` of each other, in the batch's order,
    each of the match's orders (resting first). Its logs come from the chain endpoint: a
    hostile or broken one may send any (a receipt short of a fill raised IndexError out of
    ``outcome``, its matches counted failed, their orders matched again)."""
    return unaccounted_pairs(ex, hashed(batch), receipt)


def unaccounted_pairs(ex: Exchange, pairs: Sequence[tuple[bytes, bytes]], receipt: Receipt) -> str:
    """``unaccounted`` of a settlement whose matches are named by their orders' hashes
    (resting, incoming): a start's stored row's (``sdex.settlement.rowreceipt``)."""
    if receipt.status != 1:
        return ""
    try:
        skipped = {s.index for s in ex.skipped(receipt.logs)}
        return accounted(pairs, skipped, ex.fills(receipt.logs))
    except Exception as e:  # (a log that decodes as no event: not the chain's receipt)
        return f"a log not decoded: {type(e).__name__}: {e}"[:200]


def hashed(batch: Sequence[Match]) -> list[tuple[bytes, bytes]]:
    """Each match of ``batch`` as its orders' hashes (resting, incoming)."""
    return [(m.resting.hash, m.incoming.hash) for m in batch]


def accounted(
    pairs: Sequence[tuple[bytes, bytes]], skipped: Iterable[int], fills: Sequence[FillEvent]
) -> str:
    """(``unaccounted``'s, of logs decoded) "" when they account for the matches ``pairs``
    name (resting, incoming)."""
    skips = set(skipped)
    if any(not 0 <= i < len(pairs) for i in skips):
        return f"a MatchSkipped of a match past its {len(pairs)}"
    if len(fills) != 2 * (len(pairs) - len(skips)):
        return f"{len(fills)} fills for {len(pairs) - len(skips)} matches settled"
    k = 0
    for i, (resting, incoming) in enumerate(pairs):
        if i in skips:
            continue
        if fills[k].order_hash != resting or fills[k + 1].order_hash != incoming:
            return f"the fills of match {i} are not of its orders"
        k += 2
    return ""


def unsent(batch: Sequence[Match], reason: str) -> list[SettledMatch]:
    """The matches of a batch that never left (its record refused): failed, ``unsent``."""
    return [SettledMatch(m, Outcome.FAILED, None, None, reason, unsent=True) for m in batch]


def refused_order(error: ContractRevert) -> bytes | None:
    """The order hash an Exchange ``InvalidSignature(orderHash, maker)`` revert names, else
    None: the order whose signature the settlement's own check refused (review33)."""
    if not isinstance(error, ExchangeError) or error.name != "InvalidSignature":
        return None
    named = error.args_by_name.get("orderHash")
    return named if isinstance(named, bytes) and len(named) == 32 else None
