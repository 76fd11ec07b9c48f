"""Rows a start in a chain doubt gave up unread, each marked as its receipt says once the
chain is proven ours (``mark_unread``). Split from ``sdex.settlement.reconcile`` (settle86:
over 470 lines)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from sdex.settlement.lane import NonceLane
from sdex.settlement.rowreceipt import believed, landed, record_landed
from sdex.store import StoreError

log = logging.getLogger("sdex.settlement")
MARK_REFUSED = "the mark of a row given up unread was refused: written again a second later:"
"""What ``mark_unread`` logs of a mark the store refused (then read and written again)."""
DOUBT_LOOK = 1.0
"""Seconds ``mark_unread`` waits on the doubt's change (``ChainDoubt.wake``) at most before
it looks at the doubt again (a lane without a mirror has none to wait on)."""


async def mark_unread(
    lane: NonceLane,
    tx_hashes: Sequence[str],
    doubted: Callable[[], object],
    said: Callable[[], int],
    wake: asyncio.Event | None = None,
) -> None:
    """Rows a start in a chain doubt gave up unread (``NodeAdoption._adopt``: not adoptable,
    their orders no longer open, maybe because they landed before the start), each marked as
    its receipt says once the chain is proven ours ("mined"/"failed"; "dropped" when it has
    none). review74a: one that landed before the start ended "dropped", its row saying it
    never went. An answer while a doubt was said (``said`` moved) is asked again; a read
    that fails, again a second later (the row ``dropped`` meanwhile, its bytes never sent
    again: review81, a stop in the doubt left it pending and the next start sent them), and so
    is a mark the store refused (review81b: the refusal ended this task, silently, the row
    and those after it left ``dropped`` though one may have landed). The doubt's end is waited
    for on its change (``wake``: ``ChainDoubt.wake``, the node's), looked at again every
    ``DOUBT_LOOK`` seconds at most (before: every 0.1 s, watch81)."""
    left = list(tx_hashes)
    told: set[str] = set()  # (rows whose receipt was said not believed: at debug after)
    wake = asyncio.Event() if wake is None else wake  # (none: looked at every DOUBT_LOOK)
    while left:
        while True:
            wake.clear()  # (then looked at: a change after it sets it again)
            if not doubted():
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DOUBT_LOOK):
                    await wake.wait()
        before = said()
        try:
            got = await landed(lane, left[0])
        except Exception as e:  # (a chain that does not answer: asked again)
            log.debug("the receipt of %s not read: %s", left[0], e)
            await asyncio.sleep(1.0)
            continue
        if got is not None and not await believed(lane, got, None, left[0] in told):
            told.add(left[0])  # (settle96: confirmed; review96a: said once)
            await asyncio.sleep(1.0)
            continue
        if doubted() or said() != before:
            continue
        try:
            if got is None:
                await lane.store.set_settlement_status(left[0], "dropped")
            else:
                await record_landed(lane, left[0], got)
        except StoreError as e:  # (review81b: it ended the task, the rows left unmarked)
            log.warning("%s %s: %s", MARK_REFUSED, left[0], e)
            await asyncio.sleep(1.0)
            continue
        left.pop(0)
