"""The gossip exchanges that take several calls, as generators the core drives (no I/O).

A flow yields a ``Call`` (resumed with the verified answer body, or None if the peer failed)
or a ``Check`` (resumed with the intake's counts). Every flow is bounded:

- **Admission** (``dial``): a URL enters the peer table only after it answered a signed
  ``hello``; the answer's signature names the id behind it. The URLs it shares become
  candidates, within its quota (``sdex.gossip.peers``). ``graft`` asks for a mesh link.
- **Bootstrap** (``snapshot``): page through one peer's open orders, cursor-paged by the
  peer's arrival sequence, bounded in pages (no more orders than this node may hold),
  orders per page (what we asked for), time, a cursor that must grow; the first ban ends it.
- **Anti-entropy** (``anti_entropy``): compare digests with one peer (256 buckets by the
  hash's first byte, each the XOR of its open order hashes); for buckets that differ fetch
  its hashes (the peer answers whole buckets up to a bound, ``sdex.gossip.listing``: the
  others next round; a bucket over the bound alone, a named run of it: our hashes inside
  the run are judged) and pull the orders we lack, at most ``ae_max_fetches`` fetches of
  ``batch_max`` orders; an answer with more than we asked for costs the peer and ends it.
  A fetch whose answer is too large to carry (``TooLarge``) is asked again in halves, at
  most ``SPLIT_FACTOR`` times the round's fetches in all (the rest: the next rounds, the
  halves that came through now known). A single hash too large is a lie: every order a
  node holds passed the intake, whose bound on an order (``MAX_ORDER_JSON``, its signature
  at most ``MAX_SIGNATURE_BYTES``) is far below what an answer carries (asserted below), so
  it costs the peer and ends the round. A cancel an answer brings for a hash not in its
  ``why`` is not taken (counted, ``cancels_unasked``; it costs the peer). An honest node
  fills a fetch's answer by bytes (``ANSWER_ROOM``): fewer orders than asked come, and the
  rest on the next round.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Sequence
from typing import Any, Protocol

from sdex.gossip.actions import Call, Check, Flow, GossipConfig, Reply, TooLarge
from sdex.gossip.client import ANSWER_ROOM
from sdex.gossip.hosts import source_group
from sdex.gossip.listing import in_range, named, walked
from sdex.gossip.peers import Peer, Peers
from sdex.gossip.ports import OrderView
from sdex.model import MAX_ORDER_JSON

assert MAX_ORDER_JSON * 256 <= ANSWER_ROOM, "one order's answer must be far below an answer's room"
ORDERS_PER_ANSWER = ANSWER_ROOM // (MAX_ORDER_JSON + 1)
"""Orders an answer holds at the least (each at ``MAX_ORDER_JSON``): an honest snapshot page
of ``snapshot_page`` orders is cut by bytes only beyond this many."""
KNOWS_FACTOR = 4
"""An anti-entropy round asks ``knows`` of at most this many times its fetch budget."""
SPLIT_FACTOR = 4
"""An anti-entropy round's fetch calls, halves of too-large answers included: at most this
many times ``ae_max_fetches`` (a peer that answers every ask ``TooLarge`` would otherwise
hold the node's one anti-entropy flow for ~2n calls per batch of n hashes)."""
MAX_SHARED_URLS = 64
"""URLs taken from one hello (each still within its introducer's quota)."""
SHARE_URLS = 16
"""URLs a hello (and its answer) shares: a random few of the admitted peers' (an id may
introduce only ``peers.MAX_INTRODUCED`` candidates anyway)."""


class FlowCore(Protocol):
    """What a flow uses of its core (``sdex.gossip.core.GossipCore``, which drives it): a
    structural interface, so that the core and its flows do not import each other."""

    config: GossipConfig
    view: OrderView
    peers: Peers
    me: str
    mesh: dict[str, None]
    max_orders: int
    pulled: int
    cancels_unasked: int
    cancels_loaded: bool
    empty_seed: str | None
    clock: Callable[[], float]

    def shared_urls(self) -> list[str]: ...

    def call(
        self,
        peer: Peer | None,
        kind: str,
        method: str,
        path: str,
        body: object = None,
        params: dict[str, str] | None = None,
        url: str = "",
        timeout: float | None = None,
    ) -> Call: ...

    def check(self, sender: str, orders: list[object], cancelled: bool = False) -> Check: ...

    def deliver(self, sender: str, kind: str, notice: object) -> None: ...

    def penalize_later(self, key: str) -> None: ...


def dial(core: FlowCore, url: str, graft: bool) -> Flow:
    """Say hello to ``url``; admit the key that signs the answer."""
    body = {"url": core.me, "peers": core.shared_urls(), "mesh": graft}
    reply = yield core.call(
        None, "hello", "POST", "/p2p/hello", body, url=url, timeout=core.config.dial_timeout
    )
    if not isinstance(reply, Reply) or reply.status >= 300 or reply.signer is None:
        core.peers.dial_failed(url)
        return
    answer: dict[str, Any] = reply.body if isinstance(reply.body, dict) else {}
    said = answer.get("peers")  # (its signed answer names its own URL first: ``hello``)
    own = isinstance(said, list) and bool(said) and said[0] == url  # (not a relay's: gossip98)
    peer = core.peers.admit(reply.signer, url, reply.address, own=own)
    if peer is None:
        return
    if graft and answer.get("mesh") is True:
        core.mesh[peer.key] = None
    urls = answer.get("peers")
    if isinstance(urls, list):
        for u in urls[:MAX_SHARED_URLS]:
            core.peers.introduce(u, peer.key, source_group(reply.address))


BOOT_TRIES = 3
"""Walks of soft-cancelled pages a bootstrap tries (its seeds in turn) before it gives up."""


def cancel_walk_seconds(cfg: GossipConfig) -> float:
    """The longest one walk of a peer's soft-cancelled pages may take: a ``BOOT_TRIES``-th of
    ``snapshot_seconds``, the open orders' walk its own (left60: the bootstrap's walks shared
    one deadline, so a seed answering its pages slowly, each in time, used it all: the
    retries and the orders' walk ended before their first page)."""
    return cfg.snapshot_seconds / BOOT_TRIES


def snapshot(core: FlowCore, peer: Peer, others: Sequence[Peer] = ()) -> Flow:
    """Page through ``peer``'s soft-cancelled orders (``cancelled``), then its open orders
    (bounded; see the module's docstring). A walk of the soft cancels that failed part way
    (a page not answered, a deadline, a page too large) is tried again with the next of
    ``others`` (then ``peer`` again), at most ``BOOT_TRIES`` walks in all: only a walk to
    the peer's last page sets ``cancels_loaded`` (left48: a failed page opened the node's
    gate with none of them, and an order its maker had withdrawn could be posted and traded
    here); none: the node's gate waits its bound (``CANCELS_WAIT``), anti-entropy tries again.
    Each walk of the cancels has its own deadline (``cancel_walk_seconds``), the open orders'
    walk its own (``snapshot_seconds``): a slow seed's walk leaves the next its time."""
    turn = itertools.cycle([peer, *others])
    served = [0]  # (soft cancels and open orders the walks that ended served)
    for tried in itertools.islice(turn, BOOT_TRIES):
        if core.peers.is_banned(tried.key):
            continue
        deadline = core.clock() + cancel_walk_seconds(core.config)
        if (yield from cancelled(core, tried, deadline, served)):
            core.cancels_loaded = True
            break
    deadline = core.clock() + core.config.snapshot_seconds  # (the open orders' own)

    def take(orders: list[Any]) -> Generator[Call | Check, Any, bool]:
        served[0] += len(orders)
        if not orders:
            return False
        counts = yield core.check(peer.key, orders)
        core.pulled += counts["accepted"]
        return bool(counts["accepted"] or counts["known"])  # (nothing usable: stop asking)

    if (yield from _pages(core, peer, deadline, "snapshot", take)) and not served[0]:
        core.empty_seed = peer.key  # (left48: empty pages, perhaps a lie: ``anti_entropy``)


def cancelled(
    core: FlowCore, peer: Peer, deadline: float, served: list[int] | None = None
) -> Generator[Call | Check, Any, bool]:
    """Page through ``peer``'s soft-cancelled, unexpired orders, each page handed to the node
    with its makers' signed cancels (a ``Check`` of ``cancelled`` entries): a node that joins
    after a cancel holds the order cancelled, as its peers do, before anyone can post it here
    (attack38). Bounded as the open orders' pages are; first, so a copy posted meanwhile
    finds it; the next page asked once the node has judged this one (its signatures
    recovered off the loop: review44)."""

    def take(entries: list[Any]) -> Generator[Call | Check, Any, bool]:
        if entries:
            if served is not None:
                served[0] += len(entries)
            yield core.check(peer.key, entries, cancelled=True)
        return True

    return (yield from _pages(core, peer, deadline, "cancelled", take))


def _pages(
    core: FlowCore,
    peer: Peer,
    deadline: float,
    name: str,
    take: Callable[[list[Any]], Generator[Call | Check, Any, bool]],
) -> Generator[Call | Check, Any, bool]:
    """``GET /p2p/<name>`` a page at a time (``after``, ``limit``) until ``deadline``, a page
    of more than asked (the peer penalized), a ``next`` that does not move on, or ``take``
    (the page's orders) says stop. True: the walk ended (the peer's last page, ``take``
    said stop, or the bound on pages: no more than this node may hold); False: a page not
    answered, the deadline, a ban or a page too large."""
    cfg = core.config
    after = 0
    for _ in range(core.max_orders // min(cfg.snapshot_page, ORDERS_PER_ANSWER) + 2):
        if core.clock() > deadline or core.peers.is_banned(peer.key):
            return False
        params = {"after": str(after), "limit": str(cfg.snapshot_page)}
        page = yield core.call(peer, name, "GET", f"/p2p/{name}", params=params)
        if page is None:
            return False
        orders, nxt = page.get("orders", []), page.get("next")
        if not isinstance(orders, list) or len(orders) > cfg.snapshot_page:
            core.penalize_later(peer.key)  # more than we asked for: no honest node does
            return False
        if not (yield from take(orders)):
            return True
        if not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= after:
            return True
        after = nxt
    return True


def anti_entropy(core: FlowCore, peer: Peer) -> Flow:
    """Pull the open orders ``peer`` has and we lack (bounded; see the module's docstring)."""
    cfg, view = core.config, core.view
    if not core.cancels_loaded:  # (the bootstrap's walks of them all failed: this peer's)
        deadline = core.clock() + cancel_walk_seconds(cfg)
        core.cancels_loaded = yield from cancelled(core, peer, deadline)
    theirs = yield core.call(peer, "digest", "GET", "/p2p/digest")
    if theirs is None:
        return
    their_buckets = theirs.get("buckets")
    if not isinstance(their_buckets, list) or len(their_buckets) != 256:
        core.penalize_later(peer.key)
        return
    mine = view.digest()
    buckets = [
        i
        for i, (a, b) in enumerate(zip(mine, their_buckets, strict=True))
        if a != b and not quiet(view, peer, i, b, a)
    ]
    if not buckets:
        return
    core.peers.rng.shuffle(buckets)  # (the peer answers those that fit: each takes its turn)
    ask: dict[str, Any] = {"buckets": buckets}
    if walking := [[b, peer.walks[b][2]] for b in buckets if b in peer.walks]:
        ask["from"] = walking  # (where our walks of its over-full buckets go on: gossip74)
    answer = yield core.call(peer, "hashes", "POST", "/p2p/hashes", ask)
    if answer is None:
        return
    hashes, done = answer.get("hashes"), answer.get("buckets", buckets)  # (before: all)
    asked = set(buckets)
    try:
        if (
            not isinstance(hashes, list)
            or len(hashes) > core.max_orders
            or not isinstance(done, list)
            or not all(isinstance(b, int) and b in asked for b in done)
        ):
            raise ValueError("answer")
        run = in_range(answer, asked, done)  # (a bucket over the peer's bound: a run of it)
    except ValueError:
        core.penalize_later(peer.key)
        return
    buckets = sorted(set(done))  # (only the buckets answered whole are judged)
    theirs_open = named(hashes)  # (lower-cased: a hash is one identity)
    ours = view.hashes_in(buckets)
    if run is not None:  # (and ours inside the run it named: gossip70)
        ours += [h for h in view.hashes_in([run[0]]) if run[1] <= h <= run[2]]
    held = set(ours)  # (open here: known; gossip74, the others alone are looked at)
    new = [h for h in theirs_open if h not in held]
    step = cfg.batch_max
    # ``knows`` only until the round's fetches are full, and of at most ``KNOWS_FACTOR``
    # times as many hashes (each may cost a store lookup: a peer's answer names up to
    # ``max_orders`` hashes, maybe all closed here; the next rounds look at others)
    budget = cfg.ae_max_fetches * step
    missing: list[str] = []
    refused: list[str] = []
    looked = 0
    for h in itertools.islice(new, KNOWS_FACTOR * budget):
        if len(missing) >= budget:
            break
        looked += 1
        if view.knows(h):
            continue
        if view.refused(peer.key, h):  # (rejected for good: not fetched from it again)
            refused.append(h)
        else:
            missing.append(h)
    if missing and core.empty_seed not in (None, peer.key):
        # the bootstrap's seed served empty pages, and this peer holds orders it did not
        # show: its soft cancels too, before its orders (left50). Failed part way: the
        # empty seed kept, so this peer's next round walks them again, and ``cancels_loaded``
        # as it was (reorg60: set False and the seed forgotten, the seed's next round walked
        # its empty pages, set it, and this peer's soft cancels were never walked)
        deadline = core.clock() + cancel_walk_seconds(cfg)
        if (yield from cancelled(core, peer, deadline)):
            core.empty_seed = None
            core.cancels_loaded = True
    # open here, not there: ask why (a soft cancel we missed comes with its signature)
    extra = [h for h in ours if h not in theirs_open]
    whole = looked == len(new)  # (each hash it named looked at: the quiet are known)
    if whole:
        moved = unsettled(buckets, theirs_open, their_buckets, (mine, view.digest()))
        note_quiet(peer, buckets, (their_buckets, mine), refused, missing + extra, moved)
    if run is not None:
        room = QUIET_HASHES - sum(len(q[2]) for q in peer.quiet.values())
        digests = (their_buckets, (mine, view.digest()))
        kept = whole and not missing and not extra and answer.get("digest") == their_buckets[run[0]]
        walked(peer.walks, peer.quiet, run, digests, refused if kept else None, room)
    rounds = min(cfg.ae_max_fetches, -(-max(len(missing), len(extra)) // step))
    calls = split_budget(cfg)
    for i in range(0, rounds * step, step):
        asks = [(missing[i : i + step], extra[i : i + step])]
        while asks:  # (a batch whose answer is too large: its halves, first one first)
            if core.peers.is_banned(peer.key) or calls <= 0:
                return
            calls -= 1
            want, why = asks.pop()
            body = {"hashes": want, "why": why}
            got = yield core.call(peer, "fetch", "POST", "/p2p/fetch", body)
            if isinstance(got, TooLarge):
                if len(want) + len(why) <= 1:  # one order alone: no honest answer is
                    core.penalize_later(peer.key)
                    return
                asks.extend(reversed(halves(want, why)))
                continue
            if got is None:
                return
            orders, cancels = got.get("orders", []), got.get("cancels", [])
            if (
                not isinstance(orders, list)
                or not isinstance(cancels, list)
                or len(orders) > len(want)
                or len(cancels) > len(why)
            ):
                core.penalize_later(peer.key)  # more than we asked for
                return
            if orders:
                counts = yield core.check(peer.key, orders)
                core.pulled += counts["accepted"]
            taken = asked_cancels(why, cancels)
            for notice in taken:
                core.deliver(peer.key, "cancels", notice)
            if len(taken) < len(cancels):  # (one naming a hash not asked: no honest node's)
                core.cancels_unasked += len(cancels) - len(taken)
                core.penalize_later(peer.key)
                return


def asked_cancels(why: list[str], cancels: list[Any]) -> list[Any]:
    """The ``cancels`` a fetch's answer brought that each name a hash of ``why`` (the first
    for each: review93c, a count alone let a peer hand over kept cancels of any hash, which
    took ``FetchedCancels``' watch slots while the store stalled)."""
    left = {h.lower() for h in why}
    taken: list[Any] = []
    for c in cancels:
        h = c.get("orderHash") if isinstance(c, dict) else None
        if isinstance(h, str) and h.lower() in left:
            left.discard(h.lower())
            taken.append(c)
    return taken


QUIET_HASHES = 4096
"""Rejected hashes a peer's quiet buckets may name, all together (``note_quiet``)."""


def bucket_of(h: str) -> int:
    """The digest bucket of the hash ``h`` (its first byte); -1 if that is not hex."""
    try:
        return int(h[2:4], 16)
    except ValueError:
        return -1


def quiet(view: OrderView, peer: Peer, i: int, theirs: object, mine: str) -> bool:
    """Whether bucket ``i`` (``theirs`` there, ``mine`` here) differs as it did when it was
    last asked, then only by orders held here or rejected for good, and still rejected:
    nothing to fetch (a verdict that expired or was evicted: asked again, once)."""
    q = peer.quiet.get(i)
    if q is None:
        return False
    if q[0] == theirs and q[1] == mine and all(view.refused(peer.key, h) for h in q[2]):
        return True
    del peer.quiet[i]
    return False


def unsettled(
    buckets: list[int], named: set[str], theirs: list[Any], mine: tuple[list[str], list[str]]
) -> set[int]:
    """The asked buckets whose digests are not those of the hashes the round judged: the
    XOR of the hashes the peer ``named`` in one is not the digest it sent (``theirs``: it
    changed in between), or ours moved since the round began (``mine``: then, now). Such a
    bucket is never noted quiet (tests62: the peer's digest read before it took an order,
    its hashes after, the bucket was quiet with the digest from before; once the peer's
    bucket was back to it, the order soft-cancelled there, ours was never asked about)."""
    xor = dict.fromkeys(buckets, 0)
    moved: set[int] = set()
    for h in named:
        b = bucket_of(h)
        if b in xor:
            try:
                xor[b] ^= int(h[2:], 16)
            except ValueError:  # (not hex: that bucket is judged again next round)
                moved.add(b)
    then, now = mine
    return moved | {i for i in buckets if theirs[i] != f"{xor[i]:x}" or now[i] != then[i]}


def note_quiet(
    peer: Peer,
    buckets: list[int],
    digests: tuple[list[Any], list[str]],
    refused: list[str],
    busy: list[str],
    moved: set[int],
) -> None:
    """After a round whose answer was looked at in full: the asked buckets with nothing to
    fetch or ask about (none of ``busy``) whose digests are those of the hashes judged
    (none of ``moved``: ``unsettled``) are quiet for ``peer`` while they stay as they are
    (``quiet``), their rejected hashes (at most ``QUIET_HASHES`` in all) kept to check."""
    skip = {bucket_of(h) for h in busy} | moved
    by_bucket: dict[int, list[str]] = {}
    for h in refused:
        by_bucket.setdefault(bucket_of(h), []).append(h)
    room = QUIET_HASHES - sum(len(q[2]) for q in peer.quiet.values())
    theirs, mine = digests
    for i in buckets:
        named, t = by_bucket.get(i, []), theirs[i]
        if i not in skip and len(named) <= room and isinstance(t, str) and len(t) <= 66:
            peer.quiet[i] = (t, mine[i], tuple(named))
            room -= len(named)


Ask = tuple[list[str], list[str]]


def split_budget(cfg: GossipConfig) -> int:
    """An anti-entropy round's fetch calls: ``SPLIT_FACTOR`` per fetch it may make, and a
    halving's depth more, so a round whose first batch is too large still brings the
    first piece that fits (its halves are asked first one first)."""
    return SPLIT_FACTOR * cfg.ae_max_fetches + (2 * cfg.batch_max).bit_length()


def halves(want: list[str], why: list[str]) -> list[Ask]:
    """A fetch's (hashes, why) in two asks of half its hashes each (both non-empty if it
    holds two or more): halving down to single hashes, a batch of n takes 2n - 1 calls."""
    n = (len(want) + len(why)) // 2
    a = min(n, len(want))
    return [(want[:a], why[: n - a]), (want[a:], why[n - a :])]
