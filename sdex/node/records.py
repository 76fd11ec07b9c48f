"""What the node remembers of each order: ``Record``, the indexes over records, and the
shared state every part of ``Node`` reads (declared here, built by ``Node.start``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sdex.book import OrderBook
from sdex.chain import Sender
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.gossip import Gossip
from sdex.ingest import Intake, StateBatcher
from sdex.matching import MatchingEngine
from sdex.matching.match import TimeInForce
from sdex.mirror import Mirror
from sdex.model import OPEN_STATUSES, OrderStatus
from sdex.node.config import NodeConfig
from sdex.node.events import EventHub
from sdex.order import Domain, SignedOrder
from sdex.settlement import Settler
from sdex.store import Store
from sdex.watch import Watcher

CROSS_GRACE = 0.5
"""Seconds a peer's order waits before this node settles a crossing with it (see may_match)."""

MIRROR_MAX_LAG = 2
"""Blocks the mirror may trail the chain by and still answer intake without a chain read."""


@dataclass
class Record:
    """What the node remembers of an accepted order, also after it left the book."""

    signed: SignedOrder
    seq: int
    source: str
    status: OrderStatus = OrderStatus.OPEN
    filled: int = 0
    reason: str = ""
    created_at: float = field(default_factory=time.time)
    failures: int = 0
    cancel_signature: bytes | None = None
    """The maker's soft-cancel signature, kept to prove the cancel to peers."""
    tif: TimeInForce = TimeInForce.GTC
    announced: bool = False
    """Gossiped (or received by gossip): only an order that rests is ever announced, and
    only announced open orders are offered to peers (snapshot, digest, fetch)."""
    json: dict[str, str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.json = self.signed.to_json()


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The API's answer for one posted order: HTTP status and body."""

    status: int
    body: dict[str, object]
    accepted: SignedOrder | None = None
    stored: asyncio.Future[None] | None = None
    """Resolves once the order's row is committed (``Store.add_order_async``)."""


class NodeState:
    """The node's state and the lookups over its records (no I/O)."""

    config: NodeConfig
    settle_chain: ChainThread
    rpc: AsyncRpc
    watch_rpc: AsyncRpc
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
    sender: Sender
    settler: Settler
    watcher: Watcher
    latest_timestamp: int

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.events = EventHub()
        self.records: dict[bytes, Record] = {}
        self.maker_open: dict[str, int] = {}
        self.open_orders = 0
        """Open orders in all: ``sum(maker_open.values())``, kept by ``_set_status``."""
        self.started = asyncio.Event()
        self.gossip: Gossip | None = None
        self._by_signature: dict[str, Record] = {}
        self._by_account: dict[tuple[str, str], set[bytes]] = {}
        """Order hashes by (maker, maker token): the orders a funds change touches."""
        self._dirty: set[bytes] = set()
        """Open orders whose book state may have moved since they were last persisted."""
        self._recheck: set[bytes] = set()
        """Orders a block touched while fills of theirs were in flight (``_recheck_settled``)."""
        self._tasks: list[asyncio.Task[None]] = []
        self._seq = 0

    def now(self) -> int:
        """The time the chain will judge expiry by: the latest block's, or the wall clock's."""
        return max(
            self.latest_timestamp,
            self.watcher.latest_timestamp if hasattr(self, "watcher") else 0,
            int(time.time()),
        )

    def mirror_ready(self) -> bool:
        """The mirror answers intake only while it follows the chain closely."""
        w = self.watcher
        return w.status == "ok" and w.caught_up.is_set() and w.lag <= MIRROR_MAX_LAG

    def _open_count(self, maker: str | None) -> int:
        if maker is None:
            return self.open_orders
        return self.maker_open.get(maker, 0)

    def _remember(self, rec: Record) -> None:
        self.records[rec.signed.hash] = rec
        o = rec.signed.order
        self._by_account.setdefault((o.maker, o.maker_token), set()).add(rec.signed.hash)
        if len(rec.signed.signature) == 65:
            self._by_signature[rec.json["signature"]] = rec

    def _set_funds(self, maker: str, token: str, amount: int) -> None:
        """The book's view of what ``maker`` can pay in ``token``; every order of that
        account may change status (unfunded, open), so they are persisted next."""
        if self.book.funds(maker, token) != amount:
            self.book.set_funds(maker, token, amount)
            self._dirty |= self._by_account.get((maker, token), set())

    def _pending(self, rec: Record) -> int:
        st = self.book.get(rec.signed.hash)
        return st.pending if st is not None else 0

    def _record_at(self, hash_hex: str) -> Record | None:
        """The record of a hash a peer named (0x-hex; anything else names nothing)."""
        try:
            return self.records.get(bytes.fromhex(hash_hex.removeprefix("0x")))
        except ValueError:
            return None

    def knows(self, hash_hex: str) -> bool:
        return self._record_at(hash_hex) is not None

    def _open_records(self) -> Iterable[Record]:
        return (r for r in self.records.values() if r.status in OPEN_STATUSES)

    def _gossiped_records(self) -> Iterable[Record]:
        """Open orders that rest and were announced: the only ones peers are shown."""
        return (r for r in self.records.values() if r.announced and r.status in OPEN_STATUSES)
