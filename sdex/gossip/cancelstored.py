"""A peer's soft cancel answered once what it rests on is committed (``POST /p2p/cancels``),
and said as what the node holds when that is not committed in time or is refused.

The cancel is taken in memory before its row commits: one kept for an order not held here
(``status`` "kept": the order, if it comes, is taken cancelled) or, for an order held, applied
(closed, out of the book). A stalling store's 503 said "the cancel was not stored: ...", as
users86 found the wallet's route did: read as not taken (users87). Now it says what the node
holds, that a restart before the row is stored would lose it, and that the same cancel sent
again is safe: the peer does so (its notice stays first in its outbox, sent again once the
backoff this failure set is over; ``sdex.gossip.pushing``), with ``orderHash`` and
``status`` as the 2xx's. cancel90: a cancel of an order held here was answered 200 before its
writes were committed (only a wallet's waited); now a peer's too, and a repeat while the
first's writes (or a kept cancel's row) are pending waits for them rather than queueing more
(``Node.cancel_writes``, ``Node.orphan_writes``). A cancel anti-entropy fetched
(``Deliver``) has no sender to answer: the node watches its commit and takes it again till it
is stored (``sdex.gossip.fetchedcancels``, gossip93)."""

from __future__ import annotations

from collections.abc import Awaitable

from sdex.gossip.ports import NoticeResult
from sdex.httpkit import ApiError
from sdex.sqlwriter import StoreError


async def stored_or_503(result: NoticeResult, stored: Awaitable[None]) -> None:
    """``stored`` (``result.stored``, shielded) awaited; not committed, or refused:
    ``not_stored``'s 503."""
    try:
        await stored
    except StoreError as e:
        raise not_stored(result.body, e) from None


def not_stored(body: dict[str, object], e: StoreError) -> ApiError:
    """503 for a peer's cancel taken here (``body``: its ``orderHash`` and ``status``) whose
    row was not committed (``e``), saying so."""
    h, status = body.get("orderHash"), body.get("status")
    if status == "kept":
        held = f"the cancel of order {h} is kept here (the order, if it comes, is taken cancelled)"
    elif status == "cancelled":
        held = f"the node cancelled order {h} (out of its book)"
    else:
        held = f"order {h} was {status} here already (nothing to cancel)"
    said = (
        f"{held} but has not stored the cancel: {e}; a restart before it does would lose it; "
        "send the same cancel again (safe: it cancels nothing more): 200 says it is stored"
    )
    error = ApiError(503, 100, said)
    error.body.update({"orderHash": h, "status": status})
    return error
