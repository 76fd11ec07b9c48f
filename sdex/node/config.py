"""A node's configuration: the chain it settles on, its listed pairs, its limits.

``RateLimit`` lives in ``sdex.httpkit`` and is re-exported here for its older importers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sdex.chain.tx import MAX_BASE_FEE
from sdex.deployment import Deployment, DevAccount, TokenInfo
from sdex.gossip.gossip import GossipConfig
from sdex.httpkit import Network, RateLimit
from sdex.ingest import Limits
from sdex.order import ZERO_ADDRESS, address_of

__all__ = ["NodeConfig", "RateLimit"]


@dataclass(frozen=True)
class NodeConfig:
    rpc: str
    chain_id: int
    exchange: str
    deploy_block: int
    tokens: dict[str, TokenInfo]
    """Listed tokens by symbol; every pair of them is a market (base/quote by PAIRS order)."""
    key: bytes
    """The operator's private key: it sends the settlement transactions."""
    db: Path
    host: str = "127.0.0.1"
    port: int = 8000
    peers: tuple[str, ...] = ()
    fee_bps: int = 0
    """Fee asked from makers, in basis points of what they receive (0: none)."""
    fee_recipient: str = ZERO_ADDRESS
    limits: Limits = field(default_factory=Limits)
    rate_limit: RateLimit = field(default_factory=RateLimit)
    """Per wallet client (by address): the public API's budget."""
    listing_rate_limit: RateLimit = field(
        default_factory=lambda: RateLimit(rate=2_000, burst=10_000)
    )
    """Per wallet client: records listed by ``/v1/orders``, ``/v1/orderbook``, ``/v1/fills``
    and ``/web/orders``, a page charged its records (``sdex.node.listings``); a bucket of its
    own, beside ``rate_limit``. Keep its burst at least a full order-book page (2 x 1,000):
    a page dearer than the burst is charged the whole burst, so it waits for a full bucket."""
    listing_total_rate: RateLimit = field(
        default_factory=lambda: RateLimit(rate=20_000, burst=20_000)
    )
    """All clients together: records the listing lane builds (``sdex.node.listings``), one
    page at a time, clients in turn; past it pages wait (10 clients at their own full rate;
    ~10 us of the event loop a record: a fifth of it at most)."""
    peer_rate_limit: RateLimit = field(default_factory=lambda: RateLimit(rate=2_000, burst=4_000))
    """Per peer node (by the key it proves): ``/p2p/`` requests, each may carry a batch."""
    chain_read_limit: RateLimit = field(default_factory=lambda: RateLimit(rate=10, burst=100))
    """Per wallet client (by address): orders it posts that need a chain read (a contract
    maker's signature, an account the mirror has not seen, an order the mirror cannot judge),
    a token each; past it 429 (``sdex.node.readbudget``). Orders the mirror judges are free."""
    peer_chain_read_limit: RateLimit = field(
        default_factory=lambda: RateLimit(rate=100, burst=1_000)
    )
    """Per peer node (by the key it proves; strangers share one): its orders that need a
    chain read; past it they are ``rejected`` for now (not kept: fetched again later)."""
    chain_read_total: RateLimit = field(default_factory=lambda: RateLimit(rate=200, burst=2_000))
    """All senders together: half of it the wallets', half the peers' (a lane borrows only
    what the other is not using); past it the same answers as a sender's own budget
    (``sdex.node.readbudget.ReadCeiling``)."""
    max_ws_per_client: int = 32
    """Websocket subscribers (``/v1/ws``) one client address may hold open at once."""
    max_ws: int = 1024
    """Websocket subscribers in all (at most half of the process's descriptor limit)."""
    book_tick: float = 0.005
    """Book events (``sdex.node.bookfeed``): seconds a book may move before the pairs that
    sockets follow are compared with what they were sent (one delta per tick and pair)."""
    max_http_per_client: int = 512
    """HTTP connections (websockets included) one client address may hold open at once; at
    the bound its oldest idle one is closed for a new one (``sdex.node.conns``)."""
    max_http: int = 4096
    """HTTP connections in all (at most half of the process's descriptor limit)."""
    http_idle_timeout: float = 30.0
    """Seconds an HTTP connection with no request in progress stays open."""
    fronts: int = 0
    """Front processes that accept the HTTP connections and do a wallet order's parse, hash
    and signature check on cores of their own (``sdex.node.fronts``); 0: none, this process
    accepts them."""
    max_large_answers_per_client: int = 8
    """Answers of 16 KiB or more (a listing page of 16 records or more) being written to one
    client address at once; one more is refused, 503 (``sdex.node.sending``)."""
    max_large_answers: int = 64
    """Such answers being written at once in all."""
    send_timeout: float = 30.0
    """Seconds a client has to read such an answer before its connection is closed."""
    body_timeout: float = 30.0
    """Seconds a public route's request body may take to come, else 408 (``sdex.httpkit``);
    also the longest (at most 10 s) the rest of a body its answer left unread is read and
    dropped before the connection closes (``sdex.node.conns.LINGER``)."""
    max_body: int = 64 * 1024
    """Largest request body accepted (aiohttp ``client_max_size``)."""
    max_base_fee: int = MAX_BASE_FEE
    """The highest base fee (wei a gas) the node believes and signs with (``--max-base-fee``):
    above it nothing is signed, /health's ``chainMirror.baseFee`` says why (fee86)."""
    max_batch: int = 64
    """Most matches per settlement transaction."""
    backlog_batch: int = 256
    """Most matches per settlement transaction while more than ``max_batch`` wait (bounded
    further by the gas that fits one transaction, learned from the settler's receipts)."""
    poll_interval: float = 0.05
    """Seconds between the watcher's polls for new blocks (when the RPC offers no newHeads
    subscription; with one, a safety poll runs once a second)."""
    new_heads: bool = True
    """Take new heads from the RPC's ``eth_subscribe("newHeads")`` WebSocket when offered."""
    closed_grace: float = 10.0
    """Seconds a closed order stays in memory once stored (then read from the store)."""
    expired_retention: float | None = None
    """Seconds past its expiry (by the chain's clock, as of the last block the node has
    applied: left53) that a never-traded cancelled or expired order's row is kept, then
    deleted (``sdex.storeprune``: the store is bounded by the orders of that window, not by
    every order ever accepted; ``GET /v1/orders/{hash}`` answers 404 for it after). None
    (the default, ``sdex node --drop-closed-after``): kept for ever, as PRODUCT.md promises
    ("404 only for a hash the node never accepted")."""
    refuse_damaged_rows: bool = False
    """Refuse to start (``DamagedRows``) when the store holds order rows known damaged (an
    edit, a disk error: ``/health`` ``store.damagedRows``), for an operator who would rather
    repair them first than run with acknowledged orders out of the book (``sdex node
    --refuse-damaged-rows``); by default the node starts and names them."""
    reorg_depth: int = 128
    """Blocks the mirror keeps with their undo lists: the deepest reorg undone exactly (a
    deeper one is handled as a chain reset: everything re-read)."""
    gc_freeze: bool = True
    """Take the objects alive once the stored orders are loaded out of the cyclic garbage
    collector's walks (``gc.freeze``), and again after a full collection longer than
    ``gc_pause_budget``: its pauses stay short however many orders the node holds
    (``sdex.node.gcfreeze``; ``$SDEX_GC_FREEZE=0`` turns it off)."""
    gc_pause_budget: float = 0.02
    """CPU seconds a full collection may take before what it walked is frozen too."""
    gossip: GossipConfig = field(default_factory=GossipConfig)
    trusted_proxies: tuple[Network, ...] = ()
    """``--trusted-proxy``: reverse proxies whose ``X-Forwarded-For`` names the client each
    per-client bound counts (``sdex.httpkit.TrustedProxies``); their own connections are bounded
    only by ``max_http``. None by default: the header is believed from no one."""
    admin: bool = False
    """Serve ``/admin/links`` to loopback clients (operators, tests: network partitions)."""
    node_key: Path | None = None
    """The gossip identity key file (hex); None: ``<db>.nodekey``, created when absent."""

    @property
    def node_key_path(self) -> Path:
        return self.node_key or self.db.with_name(self.db.name + ".nodekey")

    dev_accounts: tuple[DevAccount, ...] = ()
    """``--dev-wallets``: the deployment's dev keys, served to the web page's loopback clients."""

    @property
    def operator(self) -> str:
        return address_of(self.key)

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(base, quote) token addresses: the first listed token of a pair is the base."""
        syms = list(self.tokens)
        return [
            (self.tokens[b].address, self.tokens[q].address)
            for i, b in enumerate(syms)
            for q in syms[i + 1 :]
        ]

    @classmethod
    def from_deployment(
        cls,
        d: Deployment,
        key: bytes,
        db: Path,
        *,
        rpc: str | None = None,
        host: str = "127.0.0.1",
        port: int = 8000,
        peers: tuple[str, ...] = (),
        fee_bps: int = 0,
    ) -> NodeConfig:
        """The config of a node on deployment ``d``; its fees go to the operator's address."""
        if not 0 <= fee_bps <= 10_000:
            raise ValueError(f"fee_bps {fee_bps} is outside 0..10000")
        return cls(
            rpc=rpc or d.rpc,
            chain_id=d.chain_id,
            exchange=d.exchange,
            deploy_block=d.deploy_block,
            tokens=dict(d.tokens),
            key=key,
            db=db,
            host=host,
            port=port,
            peers=peers,
            fee_bps=fee_bps,
            fee_recipient=address_of(key) if fee_bps else ZERO_ADDRESS,
        )
