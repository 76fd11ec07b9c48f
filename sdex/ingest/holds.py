"""A wallet's order held while the chain mirror replays the chain (replay79): the intake's
side of ``sdex.node.replayhold``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sdex.chain import OrderState
from sdex.ingest.rejections import FOLLOWING, Rejection, not_following
from sdex.mirror import Mirror
from sdex.order import SignedOrder

Hand = Callable[[], object]
"""Called just before an intake call's first wait: its signatures' hand-over (sim48)."""
Hold = Callable[[int], Awaitable[None]]
"""(A wallet's order at this index that needs a chain read while the mirror replays the
chain) Wait, bounded, for the mirror to follow it (``sdex.node.replayhold``)."""


class Follows(Protocol):
    """What ``held`` asks of the intake (``sdex.ingest.intake.Intake``)."""

    mirror: Mirror | None
    mirror_ready: Callable[[], bool]
    chain_status: Callable[[], str]


async def held(
    hold: Hold, i: int, signed: SignedOrder, f: Follows
) -> OrderState | Rejection | None:
    """``signed`` (ECDSA-signed), while the mirror replays the chain (else None at once),
    after ``hold(i)``: the mirror's state if it follows the chain by then, why not if the
    chain is not followed any more, else None (read it: a first-seen account, or past the
    hold's bounds). Read at once while the mirror replays, each order cost a read and its
    sender a token: a wallet's burst of posts met 429s for the whole replay."""
    if f.mirror is None or f.mirror_ready():
        return None
    await hold(i)
    if (now := f.chain_status()) not in FOLLOWING:
        return not_following(now)
    return f.mirror.state(signed) if f.mirror_ready() else None
