"""Budgets of chain reads per sender (attack30's "Left", budget33).

An order the mirror cannot judge alone costs the chain an ``eth_call``: a contract maker's
(EIP-1271) signature, an account the mirror has not seen yet, an order whose state it does
not hold. A contract maker's orders each need one (every order has its own signature), and
one whose ``isValidSignature`` burns the gas it gets makes each call as dear as the view
allows (``SIGNATURE_VIEW_GAS``; on Hardhat ~7.5 MB of RSS never given back). So each sender
has a token bucket of such reads, spent only when an order needs a read (after every
off-chain check, the ECDSA recovery, the mirror and the cached EIP-1271 verdicts):

- a wallet client, by its address (``client_group``: an IPv6 client by its /64; behind a
  ``--trusted-proxy``, the address it names), ``NodeConfig.chain_read_limit`` (10 a second,
  bursts of 100), an IPv6 client's /56 and /48 each ``WIDER_READS`` times that in all
  (``client_path``; review33: a /48's 65,536 /64s had a full bucket each): past it
  ``POST /v1/orders`` is answered 429, code 103, ``Retry-After``,
  the order neither stored nor gossiped (the wallet may post it again);
- a peer node, by the key it proves, ``NodeConfig.peer_chain_read_limit`` (100 a second,
  bursts of 1,000: a peer passes on its wallets' orders); all strangers (keys not in the peer
  table, free to make) share one bucket. Past it a copy is ``rejected`` for now: no penalty,
  no verdict kept (``sdex.node.refused`` keeps none for ``THROTTLED``), so anti-entropy
  fetches it again later; the order is not lost, its own node holds it.

The budget is per sender, never per maker: a bound per maker would let anyone shut an honest
contract maker out by posting bad signatures in its name.

Many senders (client addresses, IPv6 /64s, proven peer keys: all cheap to have) add up, so
a read also takes a token of a node-wide ceiling (``ReadCeiling``,
``NodeConfig.chain_read_total``: 200 a second, bursts of 2,000; left33) in two lanes, half
the wallets', half the peers'. A lane whose own tokens are spent borrows from the other's
only what it holds past half its burst: a flood of one kind never takes the other's last
half-burst nor its share of the rate. Past it, the same answers as a sender's own budget.

Within the peers' lane each sender (the peers with a budget of their own, the strangers) has
a fair share of it (``ReadBudget``'s ``fair``): past its share a sender takes only what the
lane holds past half its burst (share78: one peer whose budget is as large as the lane spent
all of it, and every other peer's first-seen accounts were refused until it refilled)."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence

from sdex.gossip import Gossip
from sdex.gossip.checks import NEWCOMERS
from sdex.gossip.checks import STRANGERS as CHECKS_STRANGERS
from sdex.gossip.standings import MAX_DELIVERED
from sdex.httpkit import NetworkLimiter, RateLimit, RateLimiter, client_group
from sdex.ingest.intake import Spend
from sdex.ingest.readturns import one_of
from sdex.ingest.rejections import RejectionCode
from sdex.model import THROTTLED, FillEvent, error_body
from sdex.order import Order
from sdex.store import StoreError
from sdex.storestandings import MAX_KEPT, StandingStore

log = logging.getLogger(__name__)

STRANGERS = CHECKS_STRANGERS
"""The one sender every stranger's copies are charged to, and every peer's not among those
with a bound of pending reads of their own (``peer_sender``)."""

STRANGERS_SHARE = 0.5
"""The part of one peer's budget all strangers' copies share (``ReadBudget``'s ``shared``):
a swarm of new keys spends at most half of what the peers' lane of the ceiling refills, so
the peers with a budget of their own keep the rest."""

WIDER_READS = 4
"""An IPv6 wallet client's /56, and its /48, hold this many clients' budget of chain reads in
all (as ``sdex.httpkit.IPV6_WIDER_PREFIXES`` bounds connections): a site is routinely given
a /56 or a /48, and its /64s counted apart read the chain at 256 or 65,536 times the rate."""


LANES = ("wallets", "peers")
"""The ceiling's two lanes, each half of it."""


class ReadCeiling:
    """A node-wide token bucket of chain reads in two lanes (``LANES``), each with half the
    rate and half the burst; a lane may borrow what the other holds past half its burst."""

    def __init__(self, limit: RateLimit) -> None:
        self.rate = limit.rate / len(LANES)
        self.burst = max(1.0, limit.burst / len(LANES))
        now = time.monotonic()
        self._held = {lane: (self.burst, now) for lane in LANES}
        self.borrowed = dict.fromkeys(LANES, 0)
        """Reads each lane took from the other's tokens."""
        self.refused = dict.fromkeys(LANES, 0)
        """Reads each lane was refused (neither its tokens nor the other's to spare)."""

    def _tokens(self, lane: str, now: float) -> float:
        held, at = self._held[lane]
        return min(self.burst, held + (now - at) * self.rate)

    def take(self, lane: str, keep: float = 0.0) -> bool:
        """One read of ``lane``'s, if it holds a token past ``keep`` or the other lane can
        spare one."""
        now = time.monotonic()
        other = LANES[1 - LANES.index(lane)]
        own, spare = self._tokens(lane, now), self._tokens(other, now)
        if own >= 1.0 + keep:
            own -= 1.0
        elif spare >= 1.0 + self.burst / 2:  # (the other's last half-burst stays its own)
            spare -= 1.0
            self.borrowed[lane] += 1
        else:
            self._held[lane], self._held[other] = (own, now), (spare, now)
            self.refused[lane] += 1
            return False
        self._held[lane], self._held[other] = (own, now), (spare, now)
        return True

    def lane(self, lane: str) -> Callable[[], bool]:
        """``take`` of ``lane``, as a function of no argument (``ReadBudget``'s ``ceiling``)."""
        assert lane in LANES
        return lambda: self.take(lane)


class ReadBudget:
    """Token buckets of chain reads per sender (``Intake.throttled`` counts the refused),
    under a lane of the node's ``ReadCeiling`` (``ceiling``; None: none)."""

    def __init__(
        self,
        limit: RateLimit,
        ceiling: ReadCeiling | None = None,
        lane: str = "",
        max_senders: int | None = None,
        shared: str = "",
        fair: int = 0,
    ) -> None:
        """``max_senders``: buckets kept at most (``httpkit.RateLimiter``'s bound); ``shared``:
        the sender whose bucket is ``STRANGERS_SHARE`` of the others' ("": none); ``fair``:
        the senders that share the ceiling's lane, each 1/``fair`` of it before it takes only
        from the lane's upper half (0: none, as the wallets')."""
        self._buckets = NetworkLimiter(limit, WIDER_READS, max_senders)
        self._shared = shared
        self._strangers = RateLimiter(
            RateLimit(limit.rate * STRANGERS_SHARE, max(1, int(limit.burst * STRANGERS_SHARE)))
        )
        self.rate = limit.rate
        self._lane = lane
        self._ceilings = ceiling
        self._ceiling_rate = math.inf if ceiling is None else ceiling.rate
        self._fair: RateLimiter | None = None
        """Each sender's share of the ceiling's lane (``fair``; None: no shares)."""
        if ceiling is not None and fair > 0:
            share = RateLimit(ceiling.rate / fair, max(1, int(ceiling.burst / fair)))
            self._fair = RateLimiter(share, max_senders)
        self.read = 0
        """Reads taken (a sender's token and the ceiling's lane's)."""
        self.refused_by_sender = 0
        """Reads refused by a sender's own budget (its client address, network or key)."""

    def take(self, sender: str) -> bool:
        """One read for ``sender`` (a peer's key, or strangers'), if its bucket holds a token
        and the ceiling's lane too."""
        shared = bool(self._shared) and sender == self._shared
        return self._take(self._strangers if shared else self._buckets.own, sender, sender)

    def senders(self) -> int:
        """Senders' buckets kept now (not full, or not swept yet)."""
        return len(self._buckets.own) + len(self._strangers)

    def spend(self, sender: Callable[[int], str], by: Callable[[int], str] | None = None) -> Spend:
        """The ``Spend`` of an intake call: the order at index ``i`` is ``sender(i)``'s
        (worked out only for an order that needs a read: most never ask); ``by(i)``: whose
        bound of pending reads it came under (``Gossip.reads_owner``), its read's submitter
        within the shared one's (``turns_of``)."""

        def spend(i: int) -> str | None:
            who = sender(i)
            if not self.take(who):
                return None
            return turns_of(by(i)) if by is not None and who == self._shared else who

        return spend

    def wallet(self, address: str | None) -> Spend:
        """The ``Spend`` of a wallet's post from ``address``: a token of its ``client_group``
        and one of each wider network it is in (``client_path``), and the ceiling's lane, or
        none at all (the one helper of every such budget, ``sdex.httpkit.NetworkLimiter``)."""
        group = client_group(address)
        return lambda _i: group if self._take(self._buckets, group) else None

    def _take(self, buckets: RateLimiter | NetworkLimiter, client: str, fair: str = "") -> bool:
        """A token of ``client``'s in ``buckets`` and one of the ceiling's lane, or none (the
        client's given back when the ceiling refuses); ``fair``: the sender whose share of
        the lane it is (past it: only from the lane's upper half)."""
        if not buckets.take(client)[0]:
            self.refused_by_sender += 1
            return False
        if self._lane_token(fair):
            self.read += 1
            return True
        buckets.give_back(client, 1.0)
        return False

    def _lane_token(self, sender: str) -> bool:
        """A token of the ceiling's lane for ``sender``: within its share, any; past it, one
        the lane holds past half its burst (or the other lane spares)."""
        c = self._ceilings
        if c is None:
            return True
        if self._fair is None or not sender:
            return c.take(self._lane)
        if self._fair.take(sender)[0]:
            if c.take(self._lane):
                return True
            self._fair.give_back(sender, 1.0)
            return False
        return c.take(self._lane, c.burst / 2)

    def stats(self) -> dict[str, int]:
        """``/health``'s counters of this budget's lane (leftovers38: only the sum of every
        refusal, both lanes and both causes, was shown: ``ordersThrottled``): the reads it
        took of the ceiling and how many of them it borrowed from the other lane, the reads
        refused by a sender's own budget and those refused by the ceiling's lane."""
        c = self._ceilings
        lane = self._lane
        return {
            "read": self.read,
            "borrowed": c.borrowed[lane] if c is not None else 0,
            "refusedBySender": self.refused_by_sender,
            "refusedByCeiling": c.refused[lane] if c is not None else 0,
        }

    def headers(self) -> dict[str, str]:
        """A refused sender's ``Retry-After``: seconds until its next token at most."""
        rate = min(self.rate, self._ceiling_rate)
        return {"Retry-After": str(max(1, math.ceil(1.0 / rate)))}


NEW_PEERS = NEWCOMERS.rstrip()
"""The submitter of every newcomer host group's verdict reads (``turns_of``)."""


def turns_of(owner: str) -> str:
    """The verdict reads' submitter (``sdex.ingest.readturns.one_of``) of a copy charged to
    the strangers' budget, by whose bound of pending reads it came under (``owner``): a
    newcomer host group's (``NEWCOMERS``) one of ``NEW_PEERS``' turns, one at a time; every
    stranger's (keys not in the peer table) the strangers' one turn, all of them together.
    peers79: a turn per key (share78), and keys are free: two sybil keys held both of the
    shared turns, and a new honest peer's copy of a contract maker's order waited to its read
    deadline. Now a swarm of one machine, admitted and not, holds one of ``NEW_PEERS``' two
    and the strangers' one; another host group's new peer takes the other (it takes two host
    groups to hold them, as ``Peers``' per-host bound and reads78's pending reads count)."""
    if owner.startswith(NEWCOMERS):
        return one_of(NEW_PEERS, owner)
    return one_of(STRANGERS, STRANGERS)


def throttled_body() -> dict[str, object]:
    """A wallet's answer (429, with ``ReadBudget.headers``) when its budget is spent."""
    body = error_body(THROTTLED, f"Throttled: {RejectionCode.THROTTLED.message}")
    body["rejection"] = RejectionCode.THROTTLED.name
    return body


def peer_sender(gossip: Gossip | None, peer: str) -> str:
    """Whose budget of chain reads ``peer``'s copies spend: its own if it is one of the peers
    with a bound of pending reads of their own (``Gossip.reads_owner``: the
    ``reads_own_peers`` that delivered most over time), else all strangers' one, with every
    peer new or of little standing (reads78: a bucket per admitted peer, and admission is
    cheap: N sybils read N times one peer's budget, and a bucket each of every key ever
    admitted was kept, up to ``httpkit.MAX_CLIENTS``; now at most ``reads_own_peers`` + 1)."""
    owner = STRANGERS if gossip is None else gossip.reads_owner(peer)
    return owner if owner == peer else STRANGERS  # (newcomers' host groups: strangers')


KEEP_STANDINGS_SECONDS = 60.0
"""How often the peers' delivered value is written to the store (``keep_standings``; and at
a stop): a kill loses at most this long of it (a point a peer every ``EARN_SECONDS``)."""
KEEP_TRADED_SECONDS = 2.0
"""How soon after a trade is credited (``Peers.traded``: an hour's first rank) the standings
are written (peers79: only every ``KEEP_STANDINGS_SECONDS``, and a kill within them lost it,
the peer ranked behind sybils that came first until its next trade)."""


async def restore_standings(gossip: Gossip, store: StandingStore, below: float = math.inf) -> None:
    """The peers' delivered value the last run kept (``sdex.storestandings``), each id's
    when it is admitted again (sybil78: a restart reset it, and sybils that delivered first
    after it held the top places for an hour); ``below``: the saved head the start resumes
    from (their trades credited at or below it: ``Peers.restore``)."""
    gossip.peers.restore(await store.standing_rows(MAX_DELIVERED), below)


async def save_standings(gossip: Gossip, store: StandingStore, saved: float = math.inf) -> None:
    """Write the peers' delivered value now (``Peers.kept``; their trades to the saved head
    ``saved``); a store failing is logged."""
    try:
        await store.keep_standings(gossip.peers.kept(MAX_KEPT, saved))
    except StoreError as e:
        log.warning("the peers' standings were not kept (%s): next time", e)


async def keep_standings(
    gossip: Gossip, store: StandingStore, saved: Callable[[], float] = lambda: math.inf
) -> None:
    """``save_standings`` every ``KEEP_STANDINGS_SECONDS``, and within
    ``KEEP_TRADED_SECONDS`` of a trade credited once the saved head (``saved``) is at its
    block (a node's background task), the start's catch-up's too (review93a: counted from
    the credits when it began, after the catch-up, those were kept only a minute later,
    lost to a kill meanwhile: the head saved past them)."""
    kept_at, trades = time.monotonic(), 0  # (``Peers.trades``: none before the start's)
    while True:
        await asyncio.sleep(KEEP_TRADED_SECONDS)
        due = time.monotonic() - kept_at >= KEEP_STANDINGS_SECONDS
        if due or gossip.peers.trades != trades:
            head = saved()  # (a trade above it is not kept yet: written again, a minute at most)
            if due or head >= gossip.peers.traded_block:
                kept_at, trades = time.monotonic(), gossip.peers.trades
            await save_standings(gossip, store, head)


PEER_SOURCE = "peer:"
"""The prefix of a record's ``source`` that a peer delivered first (its id follows)."""


def paid_here(
    fills: Sequence[FillEvent],
    order_of: Callable[[bytes], Order | None],
    fee: tuple[str, int],
    minimum: Callable[[str], int] = lambda _token: 0,
    pushed: Callable[[bytes], bool] = lambda _hash: True,
) -> list[FillEvent]:
    """Of ``fills``, one for each fee they paid this node (``fee``: its feeRecipient and basis
    points, ``NodeConfig.fee_bps``): a fill pays when it paid this node's fee recipient a fee
    from an order held here (``order_of``) that asks at least this node's fee on what its
    maker receives (as ``sdex.ingest.rules`` holds a wallet's order to it), for a fill of at
    least this node's ``minimum`` of that token (``Limits.minimum``, ``--min-amount``): at
    least the fee this node's least order pays. Of a match's two fills (``_mates``, paired
    in log order) of which one paid, the other's, the order the payer took or was taken by
    (an honest relay's ask taken by a wallet's paying bid), unless no peer delivered that
    order (``pushed`` of its hash: its record's source a peer's), then the payer's. Only
    these credit a trade (``credit_trades``); a node that asks no fee credits none.

    peers80: every fill was credited, and a sybil key that pushed an ask of one of its
    accounts and posted the crossing bid from another to a node asking no fee ranked first
    for ``TRADED_SECONDS``, the settlement's gas paid by that node's operator (or any other
    relayer's): a self-trade costs its maker nothing but the fees, so a credit is given only
    for the fees this node was paid, what its operator asks for a settlement. peers81: the
    node's minimums bound the orders it holds, not a fill; a direct ``fillOrder`` by the
    sybil's other account of a few base units of its fee-paying order paid a fee of a few
    units (wei of WETH) and bought the same hour. A token with no minimum set (``sdex node``
    sets one for every listed token) asks only a fee above nothing. review92: both fills of
    a match were given when either paid, so a sybil's ask pushed by one id, taken by its
    fee-paying bid pushed by another, gave both ids standing (``alike.LEAST_TRADED``) for
    one fee."""
    recipient, bps = fee[0].lower(), fee[1]
    if bps <= 0:
        return []

    def pays(f: FillEvent) -> bool:
        if f.fee <= 0 or f.fee_recipient.lower() != recipient:
            return False
        o = order_of(f.order_hash)
        return (
            o is not None
            and o.fee_amount >= o.taker_amount * bps // 10_000
            and f.taker_filled >= minimum(o.taker_token.lower())
        )

    by_tx: dict[tuple[int, str], list[FillEvent]] = {}
    for f in fills:
        by_tx.setdefault((f.block_number, f.tx_hash.lower()), []).append(f)
    paid: list[FillEvent] = []
    for txs in by_tx.values():
        txs.sort(key=lambda f: f.log_index)
        i = 0
        while i < len(txs):  # (a match's two fills, or a ``fillOrder``'s one)
            n = 2 if i + 1 < len(txs) and _mates(txs[i], txs[i + 1]) else 1
            payers = [f for f in txs[i : i + n] if pays(f)]
            if len(payers) == 1 and n == 2:  # (one fee: one credit, review92)
                other = txs[i] if payers[0] is txs[i + 1] else txs[i + 1]
                payers = [other] if pushed(other.order_hash) else payers
            paid += payers
            i += n
    return paid


def _mates(a: FillEvent, b: FillEvent) -> bool:
    """Whether fills ``a`` and ``b`` (of one transaction, ``a`` logged first) are the two
    sides of one match: the Exchange logs a match's two ``OrderFilled`` back to back, each
    naming the other's maker as its taker and what the other gave as what it received."""
    return (
        b.log_index == a.log_index + 1
        and a.maker.lower() == b.taker.lower()
        and a.taker.lower() == b.maker.lower()
        and (a.maker_filled, a.taker_filled) == (b.taker_filled, b.maker_filled)
    )


def credit_trades(gossip: Gossip | None, sources: Iterable[tuple[str | None, int]]) -> int:
    """Fills of orders whose records say which peer delivered them first (``sources``: each
    fill's record's ``source``, None if not held, and its block; of fills that paid this
    node, ``paid_here``): each such peer's ``Peers.traded``, once a block (sybil78); how many
    were credited."""
    if gossip is None:
        return 0
    peers = {(s[len(PEER_SOURCE) :], b) for s, b in sources if s and s.startswith(PEER_SOURCE)}
    return sum(gossip.peers.traded(key, block) for key, block in sorted(peers))


def uncredit_trades(gossip: Gossip | None, sources: Iterable[tuple[str | None, int]]) -> int:
    """Fills a reorg undid (``credit_trades``' ``sources``): the peers credited for them
    taken back those blocks' credits (``Peers.untraded``; peers79: a reorged-out trade kept
    its peer ranked first for the hour); how many were."""
    if gossip is None:
        return 0
    undone: dict[str, set[int]] = {}
    for s, b in sources:
        if s and s.startswith(PEER_SOURCE):
            undone.setdefault(s[len(PEER_SOURCE) :], set()).add(b)
    return sum(gossip.peers.untraded(key, blocks) for key, blocks in undone.items())
