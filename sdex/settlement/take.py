"""The settler's queue (``sdex.settlement.settler``): the next batch taken off it (``take``),
and the matches of a batch withdrawn before signing (``withdrawn_from``): one order of such a
match was soft-cancelled while it waited (cancel64: all settlement slots busy, it was signed
after the cancel, at a nonce at or above the cancel's ``cancelledAtNonce``, the wallet's
cancel not honoured though nothing had been sent, and ``sdex audit`` flagged the node)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sdex.matching.match import Match
from sdex.settlement.outcome import Outcome, SettledMatch

WITHDRAWN_WHY = "an order of it was soft-cancelled before its settlement was signed"


class Withdrawn(Exception):
    """A match of the batch being signed was withdrawn meanwhile (``withdrawn_from``):
    nothing signed; the batch is built again without it."""


def take(
    queue: list[Match], submitted: list[float], size: int, suspect: Callable[[Match], bool] | None
) -> tuple[list[Match], list[float], list[Match], list[float]]:
    """The next batch (and when each was submitted), and the queue left (and its times):
    ``queue``'s first ``size`` matches, but a suspect one goes alone (pre-flighted with its
    gas: in a batch, a wallet that burns all the gas it is given would sink every match of
    it, the whole bound paid; attack30). A suspect first in the queue goes now; else the
    span's others go together and its suspects keep their place, first for the next sends
    (review32: cut before the first suspect, a contract maker's ask at every other price sent
    every honest match of a sweep alone too)."""
    if suspect is not None and queue and not suspect(queue[0]):
        kept = [i for i in range(size) if suspect(queue[i])]
        if kept:  # (the span's honest ones now, its suspects first in the queue after)
            picked = [i for i in range(size) if not suspect(queue[i])]
            return (
                [queue[i] for i in picked],
                [submitted[i] for i in picked],
                [queue[i] for i in kept] + queue[size:],
                [submitted[i] for i in kept] + submitted[size:],
            )
    elif suspect is not None and queue:
        size = 1
    return queue[:size], submitted[:size], queue[size:], submitted[size:]


def withdrawn_from(
    batch: list[Match], withdrawn: Callable[[Match], bool] | None
) -> tuple[list[Match], list[SettledMatch]]:
    """``batch`` without its withdrawn matches, and those as results: failed, never sent
    (``unsent``: the chain never saw them, nothing said against either order; the node gives
    the other order's amount back to the book) and ``withdrawn``."""
    if withdrawn is None or not any(withdrawn(m) for m in batch):
        return batch, []
    kept = [m for m in batch if not withdrawn(m)]
    return kept, [
        SettledMatch(m, Outcome.FAILED, None, None, WITHDRAWN_WHY, unsent=True, withdrawn=True)
        for m in batch
        if withdrawn(m)
    ]


def still(batch: Sequence[Match], withdrawn: Callable[[Match], bool] | None) -> None:
    """Raise ``Withdrawn`` if a match of ``batch`` is withdrawn (checked at its signing)."""
    if withdrawn is not None and any(withdrawn(m) for m in batch):
        raise Withdrawn
