"""The answer to ``POST /p2p/hashes``: anti-entropy's list of the hashes in some digest
buckets, bounded in hashes (so in bytes and work) whatever a peer asks.

A bucket is answered whole or not at all (the asker judges a bucket by all its hashes:
``flows.anti_entropy``), in the order asked, until the next would pass ``MAX_LISTED``; the
answer names the buckets it holds (``buckets``) and the asker asks the others next round (it
asks them in a random order, so none waits behind one that stays different). One bucket over
the bound alone (hashes ground into one first byte) is answered as a contiguous run of its
sorted hashes from a random place, and the span it covers is named (``range``: the bucket,
the lowest and highest hash of the span, ``ranged``): the asker judges its own hashes inside
the span, so an order it holds there that the peer has soft-cancelled is still asked why
(gossip70: the slice was named in nothing, and ~16,385 unfunded orders ground into one
bucket took every order there out of anti-entropy's cancel repair at every node). An older
asker ignores ``range``, as it did the slice. The asker walks such a bucket run by run: it
names where its next run starts (``from``: the bucket and the hash just above the last of
its previous run; a run then starts at the first hash not below it, and its span from
there), and the answer names the bucket's digest as it was listed (``digest``). A walk from
the floor to the ceiling whose runs all matched that digest and held nothing to fetch or ask
about makes the bucket quiet for that peer while both digests stay as they are (``walked``;
gossip74: such a bucket was never quiet, and two nodes that differed there only by orders
one refused for good listed ~16,000 hashes to each other every round). An older answerer
ignores ``from`` and names no digest: its runs start at random and the bucket is asked each
round, as before. (left76: ``from`` was that last hash itself, so each run began with the
last one's last hash, and a run of one hash, its asker's budget there nearly spent, named it
again: the walk stalled for good and the bucket was listed every round.) (hashes67: every
bucket was answered whole, 13.8 MB and ~230 ms of the loop for a node holding 200,000
orders, more than an asker reads: anti-entropy with a full node always failed, and any
stranger could ask it again.) The route charges the asker's rate limit a token per
``LISTED_PER_TOKEN`` hashes, and an admitted peer's answers are bounded by a budget of its
own besides (``listing_budget``)."""

from __future__ import annotations

import bisect
import random
from typing import Any

from sdex.gossip.budgets import PeerBudget
from sdex.gossip.ports import OrderView

MAX_LISTED = 16_384
"""Hashes one answer holds at most (~1.1 MB of JSON; ~20 ms of the loop to answer)."""
LISTED_PER_TOKEN = 128
"""Hashes an answer lists for each rate-limit token more it costs its asker (a full answer
128 more: the strangers' shared budget, 500 a second at the defaults, pays for ~4 full
answers a second, ~8% of the loop, not 500: hashes67's bench)."""
PER_INTERVAL = 1.5
"""Full listings (``MAX_LISTED`` hashes) an admitted peer's budget refills each anti-entropy
interval (``sdex.gossip.budgets``): an honest peer asks a node at most one a round, one round
each of its intervals (0.8-1.2 of it), so 1.5 leaves it room."""
BURST = 2
"""Full listings an admitted peer's budget holds at most."""
HEX = frozenset("0123456789abcdef")
"""The digits of a hash as this node writes and compares them (lower-case)."""


def listing(
    view: OrderView,
    buckets: list[int],
    most: int = MAX_LISTED,
    rng: Any = random,
    starts: dict[int, str] | None = None,
) -> dict[str, Any]:
    """The hashes of ``buckets`` (ints in 0..255) that fit ``most``: see the module.
    ``starts``: where the asker's next run of a bucket starts (``from``; checked)."""
    hashes: list[str] = []
    done: list[int] = []
    for b in dict.fromkeys(buckets if most > 0 else ()):
        got = view.hashes_in([b])
        if len(hashes) + len(got) <= most:
            hashes += got
            done.append(b)
        elif not hashes:  # (alone over the bound: a run of it, named)
            answer = ranged(b, got, most, rng, (starts or {}).get(b))  # (sorted: the port's)
            answer["digest"] = view.digest()[b]  # (what the run is a part of)
            return answer
        else:
            break
    return {"hashes": hashes, "buckets": done}


def floor(b: int) -> str:
    """The lowest hash bucket ``b`` may hold."""
    return f"0x{b:02x}" + "0" * 62


def ceiling(b: int) -> str:
    """The highest hash bucket ``b`` may hold."""
    return f"0x{b:02x}" + "f" * 62


def ranged(
    b: int, hashes: list[str], most: int, rng: Any, after: str | None = None
) -> dict[str, Any]:
    """A contiguous run of at most ``most`` of bucket ``b``'s sorted ``hashes`` (more than
    ``most``), from a random place, and the span it covers (``range``: ``b``, its first and
    last hash; from the bucket's floor if the run holds the first hash, to its ceiling if it
    holds the last: an asker's hash below or above all of this node's is judged too). Its
    start is drawn from ``most - 1`` places before the first hash to the last, so each hash
    is in a run as often as any other (a start drawn among the places where a whole run
    fits would leave the first and last few hashes almost never shown). With ``after`` (a
    hash of bucket ``b``: the asker's walk) the run starts at the first hash not below it,
    and its span at ``after`` (this node holds none between)."""
    if after is not None:
        start = bisect.bisect_left(hashes, after)
        lo = floor(b) if start == 0 else after
    else:
        start = rng.randrange(1 - most, len(hashes))
        lo = floor(b) if start <= 0 else hashes[start]
    run = hashes[max(0, start) : start + most]
    hi = ceiling(b) if start + most >= len(hashes) else run[-1]
    return {"hashes": run, "buckets": [], "range": [b, lo, hi]}


def above(h: str) -> str:
    """The hash just above ``h`` (hex, below its bucket's ceiling)."""
    return f"0x{int(h, 16) + 1:064x}"


def starts_of(raw: object) -> dict[int, str]:
    """A request's ``from`` (a list of at most 256 [bucket, hash of that bucket]) as a dict,
    each hash lower-cased (review76: a mixed-case hash broke the string order a run is cut
    by); absent: {}. ``ValueError`` (its reason) if it is not one."""
    if raw is None:
        return {}
    if not isinstance(raw, list) or len(raw) > 256:
        raise ValueError("from must be a list of at most 256 [bucket, hash] pairs")
    out: dict[int, str] = {}
    for item in raw:
        if not (isinstance(item, list) and len(item) == 2):
            raise ValueError("from's entries must be [bucket, hash] pairs")
        b, h = item
        if not (isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256):
            raise ValueError("from's buckets must be integers in 0..255")
        out[b] = hash_of(b, h, "from's hashes")
    return out


def hash_of(b: int, h: object, what: str) -> str:
    """``h`` as a hash of bucket ``b``: 0x and 64 hex digits, the first two ``b``'s, lower-
    cased; ``ValueError`` (saying ``what`` must be one) if it is not."""
    if isinstance(h, str) and len(h) == 66 and h[:2] in ("0x", "0X"):
        low = "0x" + h[2:].lower()
        if low[:4] == f"0x{b:02x}" and all(c in HEX for c in low[2:]):
            return low
    raise ValueError(f"{what} must be 0x and 64 hex digits, in the bucket they name ({b})")


def named(hashes: list[Any]) -> set[str]:
    """The hashes an answer lists, each as this node writes one (0x, lower-case hex): a hash
    is one identity whatever its case (gossip78: an upper-case one was taken as it came, so
    this node's copy of it looked absent there, was asked about every round, and a run or a
    bucket holding it never went quiet); what is no hash (not a string of 0x and 64 hex
    digits) is left out, as before."""
    out: set[str] = set()
    for h in hashes:
        if isinstance(h, str) and len(h) == 66 and h[:2] in ("0x", "0X"):
            low = "0x" + h[2:].lower()
            if all(c in HEX for c in low[2:]):
                out.add(low)
    return out


def in_range(
    answer: dict[str, Any], asked: set[int], done: list[Any]
) -> tuple[int, str, str] | None:
    """The run an answer names (``range``: its bucket, first and last hash), None if it names
    none; raises ``ValueError`` (its reason) if it is not one (not a bucket asked, one
    answered whole too, hashes out of that bucket, not lower-case hex, or out of order): a
    lie. Its hashes are compared as strings with this node's (0x, lower-case hex): an upper-
    case digit there sorts below every lower-case one (review76: accepted, a span of
    ``0x07AA...`` took this node's ``0x07a0...`` for inside it)."""
    got = answer.get("range")
    if got is None:
        return None
    if not isinstance(got, list) or len(got) != 3:
        raise ValueError("range must be [bucket, first hash, last hash]")
    b, lo, hi = got
    if not isinstance(b, int) or b not in asked or b in done:
        raise ValueError("range must name a bucket asked and not answered whole")
    for h in (lo, hi):  # (as written: a hash lower-cased is another string here)
        if not (
            isinstance(h, str)
            and len(h) == 66
            and h[:4] == f"0x{b:02x}"
            and all(c in HEX for c in h[2:])
        ):
            raise ValueError(f"range's hashes must be 0x and 64 lower-case hex digits of {b}")
    if lo > hi:
        raise ValueError("range's first hash must not be above its last")
    return b, lo, hi


def listing_budget(interval: float) -> PeerBudget:
    """The hashes each admitted peer may be listed (gossip69: a peer's request budget, 2,000
    tokens a second, bought ~15 full listings a second, a quarter of the loop, where an
    honest peer asks one an anti-entropy round): ``PER_INTERVAL`` full listings each
    anti-entropy ``interval``, ``BURST`` at most. A peer over it is answered fewer hashes
    (whole buckets that fit, or none), not refused: its round judges what it got and asks
    the rest next round, and counts no failure."""
    return PeerBudget(PER_INTERVAL * MAX_LISTED / interval, BURST * MAX_LISTED, MAX_LISTED)


Walk = tuple[str, str, str, tuple[str, ...] | None]
"""A peer's over-full bucket walked run by run (``walked``): the digests (the peer's, ours)
its runs since the floor matched, where its next run starts (``from``), and the hashes
rejected for good in those runs (None: one of them was not quiet)."""


def walked(
    walks: dict[int, Walk],
    quiet: dict[int, tuple[str, str, tuple[str, ...]]],
    run: tuple[int, str, str],
    digests: tuple[list[Any], tuple[list[str], list[str]]],
    refused: list[str] | None,
    room: int,
) -> None:
    """After a round answered with a run of the over-full bucket ``b`` (``run``: ``b`` and
    its span; ``digests``: the peer's, ours when the round began and now): where the walk
    of it goes on, and, once a walk from its floor reached its ceiling with every run quiet,
    the bucket quiet for this peer (``quiet``, as ``flows.note_quiet`` notes a bucket
    answered whole) while both digests stay as they were. ``refused``: the hashes the round
    rejected for good; None if the run held something to fetch or ask about, was not looked
    at whole, or was not listed from the digest the peer sent. At most ``room`` rejected
    hashes are kept (``flows.QUIET_HASHES``)."""
    b, lo, hi = run
    theirs, (then, now) = digests
    t, m = theirs[b], then[b]
    if not (isinstance(t, str) and len(t) <= 66):
        t, refused = "", None
    prior, kept = walks.get(b), None
    if refused is not None and now[b] == m:  # (ours moved meanwhile: judged again)
        span = tuple(h for h in refused if lo <= h <= hi)
        if lo == floor(b):
            kept = span
        elif prior is not None and prior[:3] == (t, m, lo) and prior[3] is not None:
            kept = prior[3] + span  # (the run goes on where the last one ended)
    if kept is not None and len(kept) > room:
        kept = None
    if hi != ceiling(b):
        walks[b] = (t, m, above(hi), kept)  # (past the run's last hash: each run moves on)
        return
    walks[b] = (t, m, floor(b), None)  # (the next walk starts at the floor)
    if kept is not None:
        quiet[b] = (t, m, kept)
