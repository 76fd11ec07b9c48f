"""Peers' order copies this node rejected for good: not fetched again by anti-entropy; and
the chain reads peers' settlement notices may cost (``Notices``, at the end).

A peer that holds an order open which this node rejects (an older version's order whose
signature is over ``MAX_SIGNATURE_BYTES``, one expired here but not yet there, a token this
node does not list) offers it in every anti-entropy round: its bucket differs, its hash is
unknown here, so it was fetched and rejected again every round, forever. ``Refused``
remembers such verdicts, bounded in size (each charged to the peer whose copy was judged,
strangers all as one, and a body verdict to the last peer whose copy it spared: past the
bound, the most charged peer's least recently noted dropped first) and in time
(``REFUSED_SECONDS``; a verdict the chain gave, until a reorg or a reset: ``forget_chain``),
keyed by what the verdict depends on:

- a verdict on the order's body (``BODY``: expired, amounts no order can fill, a token not
  listed, cancelled or filled on chain) holds for every copy of that hash (the EIP-712
  struct hash covers every field but the signature): none is fetched again, from anyone;
- a verdict on the copy's signature (``COPY``: over the bound, not the maker's) holds only
  for the peer that sent it: another copy of the same hash with another signature may be
  valid, so a peer that attaches junk to a valid order's body only stops this node asking
  *it* for that order, never another peer.

The hash is the one this node computed from the copy, not the one the peer named: a peer
that names one hash and sends another order names nothing it can have refused. Verdicts
that depend on this node's state (funds, its limits, the chain unread) are not kept, but
for one (``STATE``): ``RESTRICTED_LIMIT``, kept as a body verdict while the node's
``epoch`` stands (it moves whenever a restricted order here closes or parks, freeing a
slot). Two full nodes each at their restricted bounds fetched and refused each other's
restricted orders every round (review48); given before the signature is recovered, the
verdict is cheap, and the next round's same order now costs nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from sdex.httpkit import RateLimit, RateLimiter
from sdex.ingest.rejections import RejectionCode

REFUSED_MAX = 10_000
"""Verdicts kept, all peers' together. Each is charged to the peer whose copy was judged
(the first, if several peers' were): past the bound, the peer charged with the most loses its
least recently noted, so a hostile peer that sends any number of rejected copies evicts only
its own once it holds the most (another peer's verdicts only down to an equal share); the
evicted are fetched again, once a round, as before."""
REFUSED_SECONDS = 600.0
"""How long a verdict is kept (then the copy is fetched and judged again, once)."""

BODY = frozenset(
    {
        RejectionCode.EXPIRED,
        RejectionCode.INVALID_AMOUNTS,
        RejectionCode.TOKEN_NOT_SUPPORTED,
        RejectionCode.CANCELLED,
        RejectionCode.FULLY_FILLED,
        RejectionCode.TAKER_NEVER_TRADES,
        RejectionCode.BELOW_MINIMUM,  # (this node's minimum, fixed while it runs)
    }
)
"""Rejections that the order's body (its hash) decides, whatever its signature."""
COPY = frozenset({RejectionCode.SIGNATURE_TOO_LONG, RejectionCode.INVALID_SIGNATURE})
"""Rejections that a copy's signature decides: kept for the peer that sent it only."""
STATE = frozenset({RejectionCode.RESTRICTED_LIMIT})
"""Rejections this node's open restricted orders decide: kept as body verdicts while the
``epoch`` stands (no restricted order closed or parked here since)."""
KEPT = BODY | COPY | STATE
CHAIN = frozenset({RejectionCode.EXPIRED, RejectionCode.CANCELLED, RejectionCode.FULLY_FILLED})
"""Body verdicts the chain gave: a reorg or a reset may undo them (``forget_chain``)."""

ANYONE = ""
"""The peer key of a body verdict (no peer's key is empty)."""
STRANGERS = "(strangers)"
"""The one owner charged with the verdicts on every stranger's copies (keys not in the peer
table: free to make, so each its own owner would let a flood of new keys push every peer down
to an "equal share" of one). Only their body verdicts are kept: anti-entropy asks no
stranger, so a verdict on a stranger's own copy would spare nothing."""

Key = tuple[str, str]


class Refused:
    """(peer, order hash) pairs not to fetch again, each until its deadline; each charged to
    the peer that sent the copy judged (``REFUSED_MAX``)."""

    def __init__(
        self,
        capacity: int = REFUSED_MAX,
        seconds: float = REFUSED_SECONDS,
        epoch: Callable[[], int] = lambda: 0,
    ) -> None:
        self.capacity = capacity
        self.seconds = seconds
        self.epoch = epoch
        """The node's restricted slots' epoch (``STATE``: a verdict given in another is stale)."""
        self._until: dict[Key, tuple[float, str]] = {}  # deadline, and the peer charged
        self._epochs: dict[Key, int] = {}  # a ``STATE`` verdict's epoch
        self._charged: dict[str, OrderedDict[Key, None]] = {}  # least recently noted first
        self._chain: set[Key] = set()  # the verdicts the chain gave (``CHAIN``)
        self.chain_epoch = 0
        """``forget_chain``'s count: a check's chain verdict from before the last is not kept."""

    def __len__(self) -> int:
        return len(self._until)

    def charged(self, peer: str) -> int:
        """Verdicts charged to ``peer``."""
        return len(self._charged.get(peer, ()))

    def note(
        self,
        code: RejectionCode,
        peer: str,
        hash_hex: str,
        now: float,
        stranger: bool = False,
        *,
        since: int,
    ) -> bool:
        """Keep ``code``'s verdict on the copy of ``hash_hex`` (0x, lower-case hex) that
        ``peer`` sent (a ``stranger``: a key not in the peer table), if it is one kept; True
        if it was. ``since``: the ``chain_epoch`` its check began in, always named (gossip78:
        optional, a caller that left it out had a verdict the chain gave kept across a reorg);
        a chain verdict (``CHAIN``) from a check that a reorg or a reset overtook is not kept
        (gossip74: read from the chain before it, noted after ``forget_chain``, it kept an
        order the reorg reopened away for ``seconds``); the copy is judged again next round.
        ``hash_hex`` is lower-cased (a hash is one identity: ``holds`` looks it up so)."""
        if code in CHAIN and since != self.chain_epoch:
            return False
        hash_hex = hash_hex.lower()
        if code in BODY or code in STATE:
            key = (ANYONE, hash_hex)
        elif code in COPY and not stranger:
            key = (peer, hash_hex)
        else:
            return False
        held = self._until.get(key)
        if code in STATE:
            if held is not None and held[0] > now and key not in self._epochs:
                return True  # (a body verdict holds already, for longer)
            self._epochs[key] = self.epoch()
        else:
            self._epochs.pop(key, None)
        if code in CHAIN:
            self._chain.add(key)
        else:
            self._chain.discard(key)
        # (another's copy: it stays theirs)
        owner = (STRANGERS if stranger else peer) if held is None else held[1]
        self._until[key] = (now + self.seconds, owner)
        keys = self._charged.setdefault(owner, OrderedDict())
        keys[key] = None
        keys.move_to_end(key)
        if len(self._until) > self.capacity:
            # the peer charged with the most pays: the noting one if at or over an equal
            # share (a flood: no search), else the largest
            if len(keys) * len(self._charged) < self.capacity:
                owner = max(self._charged, key=lambda p: len(self._charged[p]))
            self._forget(self._charged[owner].popitem(last=False)[0], owner, popped=True)
        return True

    def holds(self, peer: str, hash_hex: str, now: float) -> bool:
        """Whether ``peer``'s copy of ``hash_hex`` was rejected for good (not yet expired).

        A body verdict that spares ``peer``'s copy (anti-entropy asks only peers) is charged
        to ``peer`` from then on: it is the one it protects. Else a hostile peer could push
        the bodies an honest peer holds first, own their verdicts, and evict them with its
        own flood (its least recently noted go first)."""
        hash_hex = hash_hex.lower()
        for key in ((ANYONE, hash_hex), (peer, hash_hex)):
            held = self._until.get(key)
            if held is not None:
                if held[0] > now and self._epochs.get(key, self.epoch()) == self.epoch():
                    if held[1] != peer and key[0] == ANYONE:
                        self._move(key, held, peer)
                    return True
                self._forget(key, held[1])
        return False

    def forget(self, peer: str, hash_hex: str) -> None:
        """``peer``'s copy of ``hash_hex`` may be fetched again (``sdex.node.unproven``: its
        maker's code was found at a later block)."""
        held = self._until.get(key := (peer, hash_hex))
        if held is not None:
            self._forget(key, held[1])

    def forget_chain(self) -> None:
        """A reorg or a reset: the chain's verdicts (``CHAIN``) are given again, once. An
        order refused as filled whose fill a reorg undid is open again at the peers that
        held it: reopen67, its hash skipped every anti-entropy round for ``seconds``. A
        check under way then gives its chain verdict in vain (``note``'s ``since``)."""
        self.chain_epoch += 1
        for key in list(self._chain):
            held = self._until.get(key)
            if held is not None:
                self._forget(key, held[1])
        self._chain.clear()

    def _move(self, key: Key, held: tuple[float, str], owner: str) -> None:
        """``key``'s verdict charged to ``owner`` from now on, as it was otherwise (its
        deadline, epoch, and whether the chain gave it: review69b, a moved one lost that
        mark, and a reorg left it kept)."""
        epoch, chain = self._epochs.get(key), key in self._chain
        self._forget(key, held[1])
        self._until[key] = (held[0], owner)
        if epoch is not None:
            self._epochs[key] = epoch
        if chain:
            self._chain.add(key)
        self._charged.setdefault(owner, OrderedDict())[key] = None

    def _forget(self, key: Key, owner: str, popped: bool = False) -> None:
        del self._until[key]
        self._epochs.pop(key, None)
        self._chain.discard(key)
        keys = self._charged[owner]
        if not popped:
            del keys[key]
        if not keys:
            del self._charged[owner]


NOTICE_READS = RateLimit(rate=50.0, burst=100)
"""Receipt reads that peers' settlement notices may cost, all peers together. A notice is a
hint: the watcher applies the same transaction's fills with its block anyway. Each costs the
chain endpoint a read on a peer's word, and a stranger may send hundreds a second of made-up
hashes: beyond this budget a notice is not read (answered ``applied: false``)."""
NOTICES_KEPT = 1024
"""Transactions a notice applied, remembered: their next notices (other peers') cost no read."""


class Notices:
    """What peers' settlement notices may cost this node's chain endpoint (``NOTICE_READS``),
    and the transactions they applied (the last ``NOTICES_KEPT``)."""

    def __init__(self) -> None:
        self._reads = RateLimiter(NOTICE_READS)
        self._applied: OrderedDict[str, None] = OrderedDict()

    def applied(self, tx_hash: str) -> bool:
        return tx_hash in self._applied

    def may_read(self) -> bool:
        return self._reads.take("all")[0]

    def note_applied(self, tx_hash: str) -> None:
        self._applied[tx_hash] = None
        if len(self._applied) > NOTICES_KEPT:
            self._applied.popitem(last=False)
