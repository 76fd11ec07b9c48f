"""What the gossip core takes and gives: its settings, the actions it returns, the replies
it is fed. Plain data, no I/O."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GossipConfig:
    fanout: int = 6
    """D: the mesh size a node grafts up to; each order is pushed to its mesh peers."""
    mesh_min: int = 4
    """Fewer live mesh peers than this: graft more (up to ``fanout``)."""
    mesh_max: int = 8
    """Grafts accepted up to this many mesh peers; above it a node prunes down to ``fanout``."""
    batch_max: int = 256
    """Orders per push: one batched chain read at the receiver."""
    outbox_max: int = 20_000
    push_window: int = 4
    """Pushes in flight to one peer at a time (each is answered once the peer checked it)."""
    notice_window: int = 8
    """Notices (cancels, settlement notices) in flight to one peer at a time, oldest first
    (gossip93: one at a time, a burst of N cancels cost each peer N round trips and N commits
    in a row, ~4 ms each on loopback; a window lets the peer's writer commit them in groups:
    ``bench/notice_window.py``). Orders wait till no notice does (``Pushing._flush``)."""
    push_hold: float = 0.01
    """Nagle's rule with a timer: a push leaves at once when none is in flight to that peer;
    what is accepted while one is, leaves as one batch when its answer comes, or after this
    many seconds if the answer is slower (a long link), up to ``push_window`` in flight. So
    batches grow with the load by themselves (on loopback, window 1 alone gave 0.54-0.64x
    the messages per order at 100 and 1,000 orders/s: docs/BENCHMARKS.md, helper gossip2),
    and a 50 ms link adds at most this hold per hop (window 1 alone: simulated 1,000 nodes,
    p99 to every node 1.24 s instead of 0.87)."""
    flush_delay: float = 0.0
    """Seconds a push waits for more orders. 0 (the default; it was 2 ms): none, the orders
    a node accepts in one turn of its event loop leave together at its end (the driver
    hands them to ``accepted_many`` together) with no timer, whose wake-up cost every node
    one more per order at low rates; batches form anyway while a push is in flight."""
    forward_jitter: float = 0.0
    """A push of orders this node got from a peer waits up to this many more seconds (uniform
    at random): mesh peers that got the same order forward it at different times, so the
    later ones hear it first and skip the peer that sent it (``Heard``) instead of crossing
    copies on every link. 0 (the default): forwards leave as the node's own orders do. The
    simulator at 8 nodes and 0.5 ms links: 0.010 cuts pushes per order per node by 22% with
    p99 to every node unchanged; on a loaded machine (CPU delays of tens of ms) real runs
    showed no change (docs/BENCHMARKS.md), so it stays off until a quiet run says more."""
    hint_hold: float = 0.25
    """A forward to a mesh peer that a pusher named (``also``: it sends the same orders
    there) but that the bound keeps (``Heard.split``: at most half are left out) is not
    sent on its own frame: it rides with the next push to that peer, or leaves this many
    seconds later. An honest pusher did send it (a copy that would arrive as a duplicate,
    each in its own frame and answer: 8 nodes at 100/s, ~1.5 of a node's ~2.5 copies per
    order); a lying one still silences at most half of a forward's targets, and holds the
    rest at most this long (then they are queued like any forward). 0: they leave at once,
    as the others do."""
    timeout: float = 30.0
    """A push is answered once the receiver has checked every order in it: under load that
    takes a while, and resending a batch the receiver is still checking only adds load."""
    ae_interval: float = 1.0
    snapshot_page: int = 500
    snapshot_seconds: float = 120.0
    """The longest a bootstrap may pull open orders from one peer; a walk of a peer's soft
    cancels, a third of it (``flows.cancel_walk_seconds``)."""
    ae_max_fetches: int = 4
    """Fetch calls per anti-entropy round (each at most ``batch_max`` orders)."""
    peer_exchange_interval: float = 5.0
    dial_interval: float = 0.5
    dial_timeout: float = 5.0
    peers_per_host: int = 8
    """Admitted peers one host group may hold (``peers.MAX_PER_HOST``; ``peers.host_group``:
    an IPv4 /24, an IPv6 /32, a name's last two labels): one host cannot fill the table."""
    peers_per_loopback: int = 64
    """The same for loopback addresses (default: the whole table, ``peers.MAX_PEERS``): a
    devnet runs every node on 127.0.0.1."""
    intake_chunk: int = 32
    """Peer orders checked between two turns of the event loop (wallets go first)."""
    reads_pending: int = 64
    """Peer orders whose chain reads may be pending once their group went on (the next
    group waits for one to end past it; ``sdex.gossip.checks``)."""
    reads_pending_per_peer: int = 4
    """The same, of one peer's orders (past it, its next checks wait, the others' go on;
    below the chain client's 8 connections, so one peer's held reads leave the others some)."""
    reads_own_score: int = 5
    """The value delivered over time (``standings.Standing.delivered``: a point at most
    every ``standings.EARN_SECONDS``) from which a peer's pending reads may have a bound of
    their own; below it (a peer new or of little standing) it shares one with every
    stranger (``sdex.gossip.checks.reads_owner``)."""
    reads_own_peers: int = 8
    """How many peers at most have a bound of their own: those that delivered most over
    time (``Peers.leading``), so 16 sybils that earned the bar cannot outnumber the peers
    established before them (review77c)."""
    streams: bool = True
    """Calls to admitted peers go over one authenticated websocket per peer
    (``sdex.gossip.stream``); False: every call is one signed HTTP request."""


# ---- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """Send one signed request to a peer; answer with ``answered(id, reply or None)``."""

    id: int
    kind: str
    """push, notice, hello, digest, hashes, fetch or snapshot."""
    url: str
    method: str
    path: str
    body: object = None
    params: dict[str, str] | None = None
    peer: str = ""
    """The id that must sign the answer ("" for a hello to a URL not yet admitted)."""
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Check:
    """Run a peer's orders through the node's intake, then ``judge`` and ``checked``."""

    id: int
    sender: str
    orders: list[object]
    push: bool = False
    """A peer pushed these (``receive``), not fetched by an anti-entropy flow (``check``)."""
    cancelled: bool = False
    """Entries of a peer's ``/p2p/cancelled`` page, for ``take_cancelled_many``, not the intake."""


@dataclass(frozen=True, slots=True)
class Deliver:
    """Hand a notice a peer showed us (a maker's signed cancel) to the node."""

    sender: str
    kind: str
    notice: object


@dataclass(frozen=True, slots=True)
class Scored:
    """A peer's score moved by ``points`` (it is banned if ``banned``)."""

    peer: str
    points: int
    banned: bool = False


@dataclass(frozen=True, slots=True)
class Evicted:
    """A peer that kept failing left the table."""

    peer: str
    url: str


Action = Call | Check | Deliver | Scored | Evicted


@dataclass(frozen=True, slots=True)
class Reply:
    """A peer's answer to a ``Call``: status, the id that signed it (over HTTP a 2xx only;
    over a stream any answer, its frames proven by the peer's session keys), the body."""

    status: int
    signer: str | None
    body: Any
    address: str = ""
    """Over HTTP, the IP address the answer came from (a hello's: ``Peers.admit``)."""


TOO_LARGE = 500
"""The status of an answer too large for a frame (``sdex.gossip.frames``): the request was
fine, its answer is not sent; the reason it comes with ends with ``TOO_LARGE_REASON``."""
TOO_LARGE_REASON = "what a frame carries"
SPLITS = frozenset({"fetch"})
"""Calls a flow asks again in halves when their answer is too large (``TooLarge``)."""


class TooLarge:
    """What a flow's call in ``SPLITS`` is resumed with when the peer answered that the
    answer is too large to carry: the peer did nothing wrong, the ask was too big."""


TOO_LARGE_ANSWER = TooLarge()


def too_large(reply: Reply) -> bool:
    """Is ``reply`` the bounded error of an answer too large for a frame?"""
    reason = reply.body.get("reason") if isinstance(reply.body, dict) else None
    return (
        reply.status == TOO_LARGE and isinstance(reason, str) and reason.endswith(TOO_LARGE_REASON)
    )


Flow = Generator[Call | Check, Any, None]
"""A multi-call exchange: yields calls and checks, is resumed with their results."""


@dataclass
class Pending:
    """What the core waits for: a call's answer or a check's end (and the flow it resumes)."""

    action: Call | Check
    flow: Flow | None
    on_done: Callable[[], None] | None
    results: list[str] = field(default_factory=list)
    bad: int = 0


def tally(results: Iterable[str]) -> dict[str, int]:
    """Intake results (accepted, known, rejected, forged) as the counts a push answers."""
    counts = {"accepted": 0, "known": 0, "rejected": 0}
    for r in results:
        counts["rejected" if r == "forged" or r not in counts else r] += 1
    return counts
