"""The settler's queue (``sdex.settlement.settler``): the next batch taken off it (``take``),
and the matches of a batch withdrawn before signing (``withdrawn_from``): one order of such a
match was soft-cancelled while it waited (cancel64: all settlement slots busy, it was signed
after the cancel, at a nonce at or above the cancel's ``cancelledAtNonce``, the wallet's
cancel not honoured though nothing had been sent, and ``sdex audit`` flagged the node), or
the chain must refuse it: an order cancelled on chain (cancel65) or expired by the time it
can land, a maker's funds short for it (``unpaid``; take65: signed, the operator paid the
gas of a revert, or of a batch run again match by match past a token's refusal)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet

from sdex.matching.match import Match
from sdex.settlement.outcome import Outcome, SettledMatch

WITHDRAWN_WHY = (
    "an order of it was cancelled, expired or filled on chain before its settlement was signed"
)
DOOMED_WHY = (
    "held back while a failed settlement of an order of it was diagnosed, which found that"
    " order at fault"
)
"""settle69: such a match was said withdrawn for a cancel or an expiry (``WITHDRAWN_WHY``)."""
UNPAID_WHY = "a maker's funds fell short of it before its settlement was signed"

Unpaid = Callable[[Sequence[Match]], set[int]]
"""The indexes of a batch's matches whose makers' funds fall short (``sdex.node.funding``)."""
Held = Callable[[], AbstractSet[bytes]]
"""The orders whose queued matches wait: each failed a settlement whose diagnosis has not
read the chain yet (``NodeHolds._held``; chaos66). Empty: none waits."""
Withdrawer = Callable[[Sequence[Match]], Mapping[int, str]]
"""The indexes of a batch's matches an order of which was cancelled since, or expires before
a settlement of it can land (``NodeRecords._withdrawn``: the chain's clock read once a
batch, not once a match; anvil65)."""


class Withdrawn(Exception):
    """A match of the batch being signed was withdrawn meanwhile (``withdrawn_from``), or is
    held back (``held``): nothing signed; the batch is built again of ``kept``, ``gone``
    reported withdrawn, ``back`` queued again (until its hold ends: ``still``)."""

    def __init__(self, kept: list[Match], gone: list[SettledMatch], back: list[Match]) -> None:
        super().__init__("a match withdrawn or held back at its signature")
        self.kept, self.gone, self.back = kept, gone, back


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


_NO_ORDER = object()
"""No order's hash: found only in a hold of every order (``sdex.node.gate.EVERY_ORDER``)."""


def held_back(
    queue: list[Match], submitted: list[float], held: Held | None
) -> tuple[list[Match], list[float], list[Match], list[float]]:
    """``queue`` (and its times) split in the matches that may go now and those ``held``
    back, each part in its order. chaos66: a match signed 10 ms after a settlement of the
    same ask reverted, before that failure's diagnosis had read the chain (the maker had
    moved her WETH away, the mirror not yet at that block): reverted as well, the operator's
    gas paid for a revert the diagnosis would have foreseen."""
    hashes = frozenset() if held is None or not queue else held()
    if not hashes:
        return queue, submitted, [], []
    if _NO_ORDER in hashes:  # (a hold of every order, e.g. a block not applied yet: each
        return [], [], list(queue), list(submitted)  # back, none asked; anvil81)
    back = [i for i, m in enumerate(queue) if m.resting.hash in hashes or m.incoming.hash in hashes]
    if not back:
        return queue, submitted, [], []
    kept = set(back)
    go = [i for i in range(len(queue)) if i not in kept]
    return (
        [queue[i] for i in go],
        [submitted[i] for i in go],
        [queue[i] for i in back],
        [submitted[i] for i in back],
    )


def withdrawn_from(
    batch: list[Match], withdrawn: Withdrawer | None, unpaid: Unpaid | None = None
) -> tuple[list[Match], list[SettledMatch]]:
    """``batch`` without its withdrawn matches (``withdrawn``; then, of those left,
    ``unpaid``), and those as results: failed, never sent (``unsent``: the chain never saw
    them, nothing said against either order; the node gives the other order's amount back to
    the book) and ``withdrawn``. Each match is judged once: the judgement moves with the
    clock (an order expiring by ``soonest_landing``), and a match judged kept, then gone, was
    in neither list (review67: never signed nor reported, its amounts held for good)."""
    gone: list[SettledMatch] = []
    out: Mapping[int, str] = {} if withdrawn is None or not batch else withdrawn(batch)
    if out:
        gone = [_withdrawn(m, out[i]) for i, m in enumerate(batch) if i in out]
        batch = [m for i, m in enumerate(batch) if i not in out]
    short = set() if unpaid is None or not batch else unpaid(batch)
    if short:
        gone += [_withdrawn(m, UNPAID_WHY) for i, m in enumerate(batch) if i in short]
        batch = [m for i, m in enumerate(batch) if i not in short]
    return batch, gone


def _withdrawn(m: Match, why: str) -> SettledMatch:
    return SettledMatch(m, Outcome.FAILED, None, None, why, unsent=True, withdrawn=True)


def still(
    batch: Sequence[Match],
    withdrawn: Withdrawer | None,
    unpaid: Unpaid | None = None,
    held: Held | None = None,
) -> None:
    """Raise ``Withdrawn`` if a match of ``batch`` is withdrawn, or held back (checked at its
    signing, after every await of it). hold70: a match taken into a batch just before a
    failed settlement of an order of it was reported, signed after (the lane's lock, a fee or
    nonce read awaited meanwhile), went out while that failure's diagnosis read the chain: a
    second revert when the order was at fault. It waits in the queue for the diagnosis now,
    as one queued does (``held_back``); each match judged once (``withdrawn_from``: the
    doomed are said so once)."""
    hashes = frozenset() if held is None or not batch else held()
    if hashes:
        back = [m for m in batch if not hashes.isdisjoint((m.resting.hash, m.incoming.hash))]
        if back:
            out = {id(m) for m in back}
            raise Withdrawn([m for m in batch if id(m) not in out], [], back)
    kept, gone = withdrawn_from(list(batch), withdrawn, unpaid)
    if gone:
        raise Withdrawn(kept, gone, [])
