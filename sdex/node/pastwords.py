"""Chain words read at a block past the mirror's head, each kept with that block (an order's
close or fill: ``NodeReadPast``; an account's funds: ``NodeStatus``): the mirror's word on the
same key, older, waits till its head is there (revert78, behind77, race79); those of blocks a
reset or reorg undid are let go (the mirror's word stands)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def let_go_passed(past: dict[K, int], head: int | None, kept: int) -> None:
    """With ``kept`` words or more in ``past``, those of a block the mirror's ``head`` is at
    or above let go (nothing waits for them now)."""
    if len(past) >= kept and head is not None:
        for k in [k for k, at in past.items() if at <= head]:
            del past[k]


def waits_for_mirror(past: dict[K, int] | None, key: K, head: int | None) -> bool:
    """Whether ``key``'s word in ``past`` is of a block past the mirror's ``head`` (its word
    then older: it must not undo that one); one the head reached is let go."""
    if past is None or (at := past.get(key)) is None:
        return False
    if head is not None and head >= at:
        del past[key]
        return False
    return True


def undone_let_go(past: dict[K, int] | None, low: int) -> dict[K, int] | None:
    """``past`` without the words of blocks above ``low`` (a reorg's fork; -1: a reset), which
    the chain undid; None or empty as it was."""
    if not past:
        return past
    return {k: at for k, at in past.items() if at <= low}
