"""The shared state every part of ``Node`` reads (declared here, built by ``Node.start``):
its parts, and the order registry (``sdex.node.registry``: one ``Record`` per order, its
indexes and every status transition), with the lookups the node's layers use. The fills
it remembers beside the store (its own known stored, those a reorg undid):
``sdex.node.fillmemory``."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sdex.book import OrderBook
from sdex.chain import Sender
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.gossip import Gossip
from sdex.ingest import Intake, StateBatcher
from sdex.matching import MatchingEngine
from sdex.matching.match import Match, MatchResult, Outcome
from sdex.mirror import Mirror
from sdex.model import OrderStatus
from sdex.node.commitwait import CommitWaits
from sdex.node.config import NodeConfig
from sdex.node.events import EventHub
from sdex.node.fillmemory import DurableFills, UndoneFills
from sdex.node.forwarding import ForwardTiming
from sdex.node.funding import unpaid
from sdex.node.held import hash_of
from sdex.node.heldrecord import MAX_CANCEL_NONCE
from sdex.node.orphans import OrphanCancels
from sdex.node.readbudget import ReadBudget
from sdex.node.rechecks import Rechecks
from sdex.node.refused import Notices, Refused
from sdex.node.registry import OrderRegistry
from sdex.node.registry import Record as Record
from sdex.node.replayhold import ReplayHold
from sdex.node.unproven import Unproven
from sdex.node.walletgroup import WalletGroup
from sdex.order import Domain, SignedOrder
from sdex.settlement import Settler
from sdex.settlement.stages import MAX_LANDING
from sdex.settlement.take import DOOMED_WHY, WITHDRAWN_WHY
from sdex.store import Store, StoredFill, StoreError
from sdex.watch import Watcher
from sdex.watch.changes import STORE_WAIT
from sdex.watch.clocklead import BlockSpacing, ClockLead
from sdex.watch.loop import CATCH_UP_LAG

CROSS_GRACE = 0.5
"""Seconds a peer's order waits before this node settles a crossing with it (see may_match)."""

MAX_PENDING_LEAD = 600.0
"""Seconds past the wall clock the chain's pending block may move the node's clock at most
(``NodeState.pending_lead``: attack44 measured 81 s on a devnet after a burst of blocks)."""

MIRROR_MAX_LAG = CATCH_UP_LAG
"""Blocks the mirror may trail the chain by and still answer intake without a chain read:
the watcher's ``CATCH_UP_LAG``, one number (replay80). A catch-up past it says ``replaying``,
where wallet orders wait for the mirror (``sdex.node.replayhold``); were this lag smaller,
a catch-up between the two would leave the mirror unready with nothing replaying, each order
read one by one (the 429s replay79 ended); were it larger, a catch-up the mirror could judge
at would say ``replaying`` (503 on ``/health``) and hold orders for nothing."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The API's answer for one posted order: HTTP status and body."""

    status: int
    body: dict[str, object]
    accepted: SignedOrder | None = None
    stored: asyncio.Future[None] | None = None
    """Resolves once what the answer reports is committed (the order's row,
    ``Store.add_order_async``; a cancel's, its own row writes): awaited before
    a 2xx."""
    text: str | None = None
    """``body``'s JSON text, when it was made with it (a wallet order's 201)."""
    headers: dict[str, str] | None = None
    """Headers of the answer beyond its type (a 429's ``Retry-After``)."""


Taken = tuple[SubmitResult, "asyncio.Future[None] | None"] | bytes
"""A wallet's order after the intake: its answer and the commit it waits for, or the hash of
an order held here already (``NodeIntake._answered`` waits for the one, asks for the other)."""


class NodeState:
    """The node's state and the lookups over its records (no I/O)."""

    config: NodeConfig
    _doomed: dict[int, Match]
    """Each queued match an order of which the diagnosis it was held for found at fault
    (``NodeSettlement._unhold_diagnosed``), by its ``id``: withdrawn, not signed
    (``_withdrawn``). The match itself is kept with its ``id`` so that the ``id`` cannot be
    another match's (a match that left the queue by another way, a reset's, stays alive here
    rather than freed and its ``id`` reused by a new match, withdrawn for nothing)."""
    settle_chain: ChainThread
    rpc: AsyncRpc
    watch_rpc: AsyncRpc
    send_rpc: AsyncRpc
    contract_rpc: AsyncRpc
    """EIP-1271 verdicts' reads, on few connections (``sdex.ingest.verify``)."""
    domain: Domain
    store: Store
    book: OrderBook
    engine: MatchingEngine
    tokens: frozenset[str]
    mirror: Mirror
    batcher: StateBatcher
    intake: Intake
    peer_batcher: StateBatcher
    peer_intake: Intake
    read_budget: ReadBudget
    """Chain reads per wallet client (``NodeConfig.chain_read_limit``)."""
    peer_read_budget: ReadBudget
    """Chain reads per peer (``NodeConfig.peer_chain_read_limit``)."""
    replay_hold: ReplayHold
    peer_replay_hold: ReplayHold
    """Wallet orders waiting for a replaying mirror (``sdex.node.replayhold``)."""
    sender: Sender
    settler: Settler
    watcher: Watcher
    latest_timestamp: int = 0
    """The chain's latest block's stamp (read at ``start``; 0 before: ``chain_time`` is then
    the wall clock's, for a node judging orders before it starts, as the registry's tests)."""
    lead: ClockLead
    """Seconds the chain's clock runs ahead of ours, as its recent blocks showed on arrival
    (``saw_block_time``)."""
    spacing: BlockSpacing
    """Seconds between the chain's recent blocks (``saw_block_time``): the least time a
    settlement takes to land (``now``)."""
    pending_lead = 0.0
    """Seconds the chain's pending block showed its clock ahead of ours at start, at most
    ``MAX_PENDING_LEAD``; dropped once a block stamped after ``pending_before`` (the latest
    block's stamp then) shows the chain's clock (``Node._pending_clock``)."""
    pending_before = 0

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self._doomed = {}
        self.lead = ClockLead()
        self.spacing = BlockSpacing()
        self.events = EventHub()
        self.registry = OrderRegistry(self.events)
        """Every order's record and status (attached to the store and book at start)."""
        self.started = asyncio.Event()
        self.serving_peers = asyncio.Event()
        """Set once gossip starts (before ``started``): ``/p2p/`` is served from then on."""
        self.gossip: Gossip | None = None
        self._recheck = Rechecks()
        """Orders a block touched while fills of theirs were in flight (``_recheck_settled``);
        kept in the store too (a kill: judged at the next start, ``_recheck_stored``)."""
        self._undone = UndoneFills()
        """Fills a reorg undid: mined again later, they count in a closed order's record."""
        self._own_durable = DurableFills()
        """The own settlements' fills known stored: the watcher does not write them again."""
        self._tasks: list[asyncio.Task[None]] = []
        self.cancels_unread: dict[bytes, Record] = {}
        """Orders closed by a soft cancel whose filled amount the chain has not been asked
        yet (``NodePeering._read_cancelled``); ``cancels_waiting`` wakes that task."""
        self.cancels_waiting = asyncio.Event()
        self._results_lock = asyncio.Lock()
        """One settlement's results written and diagnosed at a time (``_on_settled``)."""
        self._late_writes: set[asyncio.Task[list[StoredFill]]] = set()
        """Settlements' fills writes left behind past ``store_wait`` (``_fills_durable``)."""
        self._fills_writing: set[asyncio.Future[Any]] = set()
        """Fills writes in flight whose orders' records may say so already (``fills_listable``)."""
        self.fills_reads_waited = 0
        """Fills listings that waited for such writes."""
        self.rows_reads_waited = 0
        """Order listings by status that waited for row writes (``rows_listable``)."""
        self._seq = 0
        self.cancelled_taken: dict[str, int] = {}
        self.cancel_writes: dict[bytes, asyncio.Future[None]] = {}
        """The held orders' soft cancels whose writes are not committed yet (a peer's repeat
        waits for them, not for writes of its own: ``soft_cancel``)."""
        self.orphan_writes: dict[tuple[bytes, bytes, str], asyncio.Future[None]] = {}
        """The kept cancels' rows not committed yet (a sender's repeat waits for its row's
        write, not for one of its own: ``_keep_orphan``)."""
        self.orphan_cancels = OrphanCancels()
        """Peers' soft cancels of orders not held here yet (cancel63: taken as the order comes)."""
        """Soft-cancelled orders taken from each peer's pages (``take_cancelled_many``)."""
        self.forwarding = ForwardTiming()
        """What a new order costs here before it is passed on (``/health``)."""
        self.commit_waits = CommitWaits()
        """The deadline of each wallet order's wait for its own row (``store_wait``)."""
        self.wallet_group: WalletGroup[Taken] = WalletGroup()
        """The wallet orders of this loop turn, taken through the intake together (http69)."""
        self.store_wait = STORE_WAIT
        """Seconds a wallet's answer waits for its writes' commit before a 503 (the store
        stalls: the watcher says ``failing`` after as long)."""
        self.refusals = Refused(epoch=lambda: self.registry.restricted_freed)
        """Peers' copies rejected for good: anti-entropy fetches them no more (for a while)."""
        self.unproven = Unproven()
        """Peers' copies whose signature no wallet took at our block: their charge waits."""
        self.notices = Notices()
        """Peers' settlement notices: the receipt reads they cost this node's chain endpoint."""

    def track_fills(self, write: asyncio.Future[Any]) -> None:
        """A fills write queued as (or before) the records of its orders take the fills in
        (a settlement confirmed, a block applied): ``fills_listable`` waits for it."""
        self._fills_writing.add(write)
        write.add_done_callback(self._fills_writing.discard)

    async def fills_listable(self) -> None:
        """Read-your-writes for ``GET /v1/fills``: once the fills writes in flight now are
        committed (or failed), a read of the store lists every fill whose order a client saw
        filled before asking (the records change before an await, the writes commit after).
        Nothing in flight (the usual case): no wait. At most ``store_wait`` seconds, then
        ``StoreError`` (the store stalls: ``/health`` says so too)."""
        if self._fills_writing:
            self.fills_reads_waited += 1
            await self._written(self._fills_writing, "fills")

    async def rows_listable(self) -> None:
        """Read-your-writes for ``GET /v1/orders?status=``: the row writes in flight now
        committed (as ``fills_listable``), a read by status lists an order read with it."""
        if self.registry.rows_writing:
            self.rows_reads_waited += 1
            await self._written(self.registry.rows_writing, "orders")

    async def _written(self, writes: set[asyncio.Future[Any]], what: str) -> None:
        _, late = await asyncio.wait(set(writes), timeout=self.store_wait)
        if late:
            raise StoreError(
                f"{what} not committed within {self.store_wait:g} s (the store stalls); "
                "ask again later"
            )

    @property
    def records(self) -> dict[bytes, Record]:
        """The registry's records by order hash (read-only use: the registry changes them)."""
        return self.registry.records

    @property
    def open_orders(self) -> int:
        return self.registry.open_orders

    def now(self) -> int:
        """The time the chain will judge a settlement of a match made now by: ``chain_time``
        and the seconds a settlement has taken to land lately (``StageTimes.landing``: on a
        chain that mines every few seconds, the next block's). attack48: an order matched a
        second before its expiry was settled in the next block, past it, and refused; any
        two wallets could repeat it for free (one order expiring, one crossing it just
        before), the operator paying every failed settlement's gas. Matching goes by it
        (``match_by``): an order expiring before a settlement of it could land is not
        matched. Whether an order is expired goes by ``chain_time`` (landing49: closing an
        honest order that early, for good, took it off the book while the chain would
        still fill it)."""
        return self.times()[1]

    def times(self) -> tuple[int, int]:
        """``(chain_time(), now())``, the chain's clock read once (a wallet's order is
        matched by both: expired by the first, matched by the second)."""
        settler = getattr(self, "settler", None)
        landing = 0 if settler is None else settler.stages.landing
        chain = self.chain_time()
        # (at least the chain's block spacing: its next block, even with no landing of ours
        # measured yet or remembered; attack50)
        return chain, chain + min(MAX_LANDING, max(landing, self.spacing.value))

    def chain_time(self) -> int:
        """The chain's time now: the latest block's, or the wall clock's moved by how far the
        chain's clock ran ahead at its latest blocks (``lead``: a Hardhat chain stays
        ahead after a burst of blocks, and its next block is stamped so; judged by the stale
        latest block, an order it will find expired was matched and its settlement refused,
        the gas paid: attack44)."""
        t = time.time()
        watcher = getattr(self, "watcher", None)  # (none before the node starts)
        watched = 0 if watcher is None else watcher.latest_timestamp
        lead = max(self.lead.value, 0.0 if watcher is None else watcher.lead.value)
        lead = max(lead, self.pending_lead)
        return max(
            self.latest_timestamp,
            watched,
            int(t),
            math.ceil(t + lead) if lead > 0 else 0,  # (its next block: rounded its way)
        )

    def cancel_position(self) -> tuple[int, int | None]:
        """Where a soft cancel taken now stands (``Record.cancel_at``): the watcher's
        checkpoint block and the operator's next settlement nonce. A settlement transaction
        this node signed before has a lower nonce; one it signs after, this one or higher.
        While the next is not known (forgotten after a reorg or a failed send, or not read yet
        at a start: the lane reads it from the chain at its next signing), one past the
        highest it signed (review64: none was named, and the audit took the operator's count
        at the block, below a settlement signed before and still pooled: the honest node
        flagged when it landed), or at a start the chain's count (``Node._nonce_floor``,
        chaos66); None if neither is known.

        A known next nonce below ``signed_past`` (left67: not ``max`` of the two): it was read
        from the chain's *pending* count (``NonceLane._sign_next``) after a reorg, a revert or
        a lost send, and nothing signed at it since (the match withdrawn just before its
        signature, or a signed one given back unsent). That count holds every transaction
        signed before that the chain still has, so those at or above it are ones the chain
        dropped; the lane never sends a dropped one again (lost: its row ``dropped``, not sent
        again at a restart), and the next one it signs takes that nonce. Named, it flags a
        settlement signed after the cancel at a reused nonce, which ``signed_past`` would
        excuse; it would wrongly flag only a dropped transaction's bytes sent again by someone
        else (another backend's pool) after the cancel: none shown (cancel66 on Hardhat, its
        re-send refused "replacement underpriced"; left67 found no path of the node's own)."""
        nonce = self.sender.next_nonce
        named = self.sender.signed_past if nonce is None else nonce
        # (review69a: an endpoint's count past SQLite's INTEGER refused every soft cancel)
        return self.watcher.block, named if named is None or named <= MAX_CANCEL_NONCE else None

    def _withdrawn(self, batch: Sequence[Match]) -> dict[int, str]:
        """The indexes of ``batch``'s matches (with why) an order of which was cancelled since
        the match was made, or expires before a settlement of it can land: the settler does not sign
        them. Soft-cancelled (its maker's cancel taken here: ``Record.cancel_signature``;
        cancel64: signed after the cancel, at ``cancelledAtNonce`` or above, it broke the
        node's word though nothing had been sent), or cancelled on chain (its record closed
        so, or in a block the mirror applied and the node not yet: ``cancelled_on_chain``;
        cancel65: signed, the chain could only revert or skip it, the operator's gas paid for
        nothing), or filled in full on chain by another (``filled_on_chain``; review67: a
        taker's ``fillOrder`` ahead of the queued match, reverted the same way), or expired by
        ``soonest_landing`` (take65: queued past its expiry, signed, reverted the same way),
        or held back for a failed settlement's diagnosis that found an order of it at fault
        (``_doomed``; chaos66).
        The chain's clock read once a call (anvil65: once a match before), a batch's calls
        being as it forms, at its signature, and again right before its send (held79's
        ``unsendable``; revert79's ``_recheck`` too with a watcher): those later looks find
        its matches signed, which clears no mark meant for an unsigned one."""
        records, doomed, mirror = self.records, self._doomed, self.mirror
        landing = self.soonest_landing()
        # (``gone_on_chain`` written out, the mirror's maps read once a call: anvil81)
        filled, cancelled, min_salt = mirror.filled, mirror.cancelled, mirror.min_salt
        out: dict[int, str] = {}
        for i, m in enumerate(batch):
            if doomed and doomed.pop(id(m), None) is not None:  # (at fault: its diagnosis)
                out[i] = DOOMED_WHY
                continue
            for so in (m.resting, m.incoming):
                h, o = so.hash, so.order
                rec = records.get(h)
                if rec is not None and (
                    rec.cancel_signature is not None or rec.status is OrderStatus.CANCELLED
                ):
                    out[i] = WITHDRAWN_WHY
                    break
                if (
                    o.expiry <= landing
                    or filled.get(h, 0) >= o.maker_amount
                    or h in cancelled
                    or o.salt < min_salt.get(o.maker, 0)
                ):
                    out[i] = WITHDRAWN_WHY
                    break
        return out

    def soonest_landing(self) -> int:
        """The earliest stamp of a block a transaction signed now can land in: the chain's
        clock now (``chain_time``), and on a chain mining at a steady interval its latest
        block's stamp and that interval (``spacing``; 0 on a chain mining on the send). The
        contract refuses an order at ``block.timestamp >= expiry``: one expiring by then
        is refused for sure. Not ``now`` (``chain_time`` and the landing time measured
        lately, which matching goes by, attack48): a guess of when it lands; a match made
        already is withdrawn only when the chain must refuse it (a settlement landing sooner
        than the slowest lately would fill it)."""
        watcher = getattr(self, "watcher", None)  # (none before the node starts)
        head = max(self.latest_timestamp, 0 if watcher is None else watcher.latest_timestamp)
        return max(self.chain_time(), head + self.spacing.value)

    def _unpaid(self, batch: Sequence[Match]) -> set[int]:
        """The matches of ``batch`` its makers' funds fall short of, as the mirror shows
        them (``sdex.node.funding``; memory only): not signed (take65)."""
        return unpaid(batch, self.settler.signed_out, self.mirror, self._confirmed)

    def _confirmed(self, order_hash: bytes) -> int | None:
        """The filled amount the book has confirmed of an order (None: not in the book)."""
        e = self.book.find(order_hash)
        return None if e is None else e.filled

    def live_sides(self, matches: Iterable[Match]) -> list[bytes]:
        """The hashes of ``matches``' orders (given back unsent) to match again: not one
        cancelled or filled in full on chain (its block's close may still be on its way:
        matched again meanwhile, it would only be withdrawn again)."""
        sides = (so for m in matches for so in (m.resting, m.incoming))
        return [so.hash for so in sides if not self.gone_on_chain(so)]

    def gone_on_chain(self, so: SignedOrder) -> bool:
        """Whether the chain can fill nothing more of ``so`` as the mirror has it, from
        memory only: cancelled (``cancelled_on_chain``), or filled in full (a fill the
        mirror applied in its window of recent blocks: ``Mirror.filled``)."""
        filled = self.mirror.filled.get(so.hash, 0)
        return filled >= so.order.maker_amount or self.cancelled_on_chain(so)

    def cancelled_on_chain(self, so: SignedOrder) -> bool:
        """Whether the mirror has ``so`` cancelled on chain (``cancelOrder``, or its maker's
        ``cancelOrdersUpTo`` past its salt), from memory only (a cancel of an order the book
        still offers is in the mirror's window of recent blocks: held in memory)."""
        mirror, o = self.mirror, so.order
        return so.hash in mirror.cancelled or o.salt < mirror.min_salt.get(o.maker, 0)

    def saw_block_time(self, number: int, timestamp: int, reset: bool = False) -> None:
        """The chain's newest block, ``number``, is stamped ``timestamp``: the chain's clock is
        ahead of ours by at least what it exceeds our clock (Hardhat stamps each block at
        least a second after the last, so a burst of blocks leaves its clock ahead, and its
        next blocks stay so): the most its last blocks showed (``ClockLead``); after a reorg
        or a reset (``reset``), which take the chain's clock back with its blocks, this one's."""
        if reset or timestamp > self.pending_before:
            self.pending_lead = 0.0  # a newer block (or another chain): the guess superseded
        self.lead.saw(number, timestamp, reset)
        self.spacing.saw(number, timestamp, reset)

    def mirror_ready(self) -> bool:
        """The mirror answers intake only while it follows the chain closely."""
        w = self.watcher
        return w.status == "ok" and w.caught_up.is_set() and w.lag <= MIRROR_MAX_LAG

    def replayed(self) -> bool:
        """The watcher has replayed the chain to its head: a wallet's order waits no longer
        (``sdex.node.replayhold``; a mirror that trails the head, ``mirror_ready`` false, is
        no replay: its order is read at once, never held)."""
        return self.watcher.caught_up.is_set()

    def _pending(self, rec: Record) -> int:
        st = self.book.get(rec.signed.hash)
        return st.pending if st is not None else 0

    def _record_at(self, hash_hex: str) -> Record | None:
        """The record of a hash a peer named (0x-hex; anything else names nothing)."""
        return self.registry.at(hash_hex)

    def knows(self, hash_hex: str) -> bool:
        """Whether this node accepted the order (held in memory, or closed and stored)."""
        h = hash_of(hash_hex)
        return h is not None and self.registry.held(h)

    def _gossiped_records(self) -> Iterable[Record]:
        """Open orders that rest and were announced: the only ones peers are shown."""
        return self.registry.gossiped_records()


def stays_open(mr: MatchResult, pending: Callable[[], int]) -> bool:
    """Whether ``mr``'s incoming order is still open once ``mr`` is applied: not killed,
    dropped (unless fills of it are in flight: ``pending()``, read only then) or expired,
    and not closed by the book (dust left at arrival: its remainder cannot trade one unit
    at its price)."""
    o = mr.outcome
    if o is Outcome.EXPIRED or (o in (Outcome.DROPPED, Outcome.KILLED) and not pending()):
        return False
    removed = mr.removed  # (none, mostly: no generator made then)
    if not removed:
        return True
    h = mr.order.hash
    return not any(r == h for r, _ in removed)
