"""A peer's request as a ``/p2p/`` route sees it (``sdex.gossip.routes``), whether it came as
HTTP or as a stream frame."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdex.gossip.gossip import Gossip


@dataclass(frozen=True, slots=True)
class Asked:
    """A peer's request as a route sees it, whether it came as HTTP or as a stream frame:
    the id its key proved, the URL it claims, its body (a JSON object) and query."""

    sender: str
    url: str
    body: dict[str, Any]
    query: Mapping[str, str]
    addressed: bool = True
    """Signed for this node's id: False only for a hello that names no node or another
    (a first hello, or one replayed from elsewhere), which is taken as a stranger's."""
    to: str = ""
    """The node id it was signed for (``X-SDEX-To``; "": none)."""
    address: str = ""
    """The client address it came from (``request.remote``; what its host group is)."""
    charge: Callable[[float], None] = lambda _tokens: None
    """Takes more tokens from the rate-limit budget it was charged to (``gate.charge``): for
    an answer that cost more than a request (``post_hashes``)."""


Route = Callable[["Gossip", Asked], Awaitable[object]]


def paid(_tokens: float) -> None:
    """The ``Asked.charge`` of a request measured instead (``gate.spent``: an admitted
    peer's, addressed here): what its answer cost is in the loop time it took."""
