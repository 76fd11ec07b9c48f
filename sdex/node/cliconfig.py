"""The ``NodeConfig`` that ``sdex node`` builds from its command-line options
(``config_for``, PRODUCT.md section 4): each option's bounds checked (a bad value is a
``ValueError`` saying which option and why), the rest left at ``NodeConfig``'s defaults.
``sdex.node.main`` runs the node it configures.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Required, TypedDict, Unpack

from sdex.chain.tx import MAX_BASE_FEE
from sdex.deployment import DEVNET_CHAIN_IDS, Deployment, DevAccount
from sdex.gossip.actions import GossipConfig
from sdex.httpkit import Network, RateLimit
from sdex.ingest.minimums import minimums_for
from sdex.node.config import NodeConfig


class NodeOptions(TypedDict, total=False):
    """``sdex node``'s options as ``config_for`` takes them (``run_node`` passes them on).
    Each left out is off, empty, 0 or None (a bound left None keeps ``NodeConfig``'s
    default), but ``host`` (127.0.0.1), ``gossip_scale`` (1), ``rpc`` (the deployment
    file's) and ``db`` (node-PORT.db beside the deployment file); ``key`` is required (left
    out or None: ``ValueError``)."""

    port: Required[int]
    deployment: Required[Path]
    host: str
    peers: list[str] | tuple[str, ...]
    rpc: str | None
    key: str | None
    db: Path | None
    fee_bps: int
    admin: bool
    node_key: Path | None
    dev_wallets: bool
    gossip_scale: float
    max_http_per_client: int | None
    max_http: int | None
    http_idle_timeout: float | None
    listing_rate_limit: float | None
    listing_rate_total: float | None
    chain_read_limit: float | None
    peer_chain_read_limit: float | None
    chain_read_total: float | None
    trusted_proxies: tuple[Network, ...]
    min_amounts: tuple[str, ...]
    drop_closed_after: float | None
    refuse_damaged_rows: bool
    fronts: int
    max_base_fee: int | None


def config_for(**options: Unpack[NodeOptions]) -> NodeConfig:
    """The config ``sdex node`` builds from its options (PRODUCT.md section 4).

    The operator key is required: two nodes sharing one (a default such as the first dev
    account) would send settlements with the same nonces and fail each other's.
    ``gossip_scale`` multiplies the gossip timers' intervals (``scaled_gossip``). The HTTP
    connection bounds (``sdex.node.conns``) left ``None`` keep ``NodeConfig``'s defaults."""
    o = options
    port, deployment = o["port"], o["deployment"]
    d = Deployment.load(deployment)
    key = o.get("key")
    if key is None:
        raise ValueError("no operator key: pass --key HEX or set $SDEX_NODE_KEY")
    key_bytes = bytes.fromhex(key.removeprefix("0x"))
    if len(key_bytes) != 32:
        raise ValueError("--key must be 32 bytes of hex")
    config = NodeConfig.from_deployment(
        d,
        key_bytes,
        o.get("db") or deployment.parent / f"node-{port}.db",
        rpc=o.get("rpc"),
        host=o.get("host", "127.0.0.1"),
        port=port,
        peers=tuple(o.get("peers", ())),
        fee_bps=o.get("fee_bps", 0),
    )
    config = replace(
        config,
        admin=o.get("admin", False),
        node_key=o.get("node_key"),
        dev_accounts=_dev_accounts(d) if o.get("dev_wallets") else (),
        gossip=scaled_gossip(config.gossip, o.get("gossip_scale", 1.0)),
        trusted_proxies=tuple(o.get("trusted_proxies", ())),
        limits=replace(config.limits, min_amounts=minimums_for(d.tokens, o.get("min_amounts", ()))),
        expired_retention=o.get("drop_closed_after"),
        refuse_damaged_rows=o.get("refuse_damaged_rows", False),
        fronts=o.get("fronts", 0),
        max_base_fee=fee_ceiling(o.get("max_base_fee")),
    )
    config = listing_bounds(config, o.get("listing_rate_limit"), o.get("listing_rate_total"))
    config = read_bounds(
        config, o.get("chain_read_limit"), o.get("peer_chain_read_limit"), o.get("chain_read_total")
    )
    return http_bounds(
        config, o.get("max_http_per_client"), o.get("max_http"), o.get("http_idle_timeout")
    )


MAX_BASE_FEE_GWEI = 10**9
"""The highest ``--max-base-fee`` (gwei): one ether a gas."""


def fee_ceiling(gwei: int | None) -> int:
    """``--max-base-fee`` (whole gwei, from 1 to ``MAX_BASE_FEE_GWEI``; None: the default,
    ``MAX_BASE_FEE``) in wei; ``ValueError`` out of those bounds."""
    if gwei is None:
        return MAX_BASE_FEE
    if not 1 <= gwei <= MAX_BASE_FEE_GWEI:
        raise ValueError(f"--max-base-fee must be gwei from 1 to {MAX_BASE_FEE_GWEI}, not {gwei}")
    return gwei * 10**9


def listing_bounds(
    config: NodeConfig, per_client: float | None = None, total: float | None = None
) -> NodeConfig:
    """``config`` with the listing budgets given, in records a second (``--listing-rate-limit``
    per client address, bursts of 5 s of it; ``--listing-rate-total`` all clients together,
    bursts of 1 s of it; each burst at least a full order-book page, 2,000);
    ``ValueError`` for a rate that is not a number above 0 (at most 10,000,000)."""
    for name, rate in (("--listing-rate-limit", per_client), ("--listing-rate-total", total)):
        if rate is not None and not 0 < rate <= 10_000_000:  # (also NaN)
            raise ValueError(f"{name} must be records a second above 0, not {rate!r}")
    if per_client is not None:
        burst = max(LISTING_BURST_FLOOR, math.ceil(5 * per_client))
        config = replace(config, listing_rate_limit=RateLimit(rate=per_client, burst=burst))
    if total is not None:
        burst = max(LISTING_BURST_FLOOR, math.ceil(total))
        config = replace(config, listing_total_rate=RateLimit(rate=total, burst=burst))
    return config


def read_bounds(
    config: NodeConfig,
    per_client: float | None = None,
    per_peer: float | None = None,
    total: float | None = None,
) -> NodeConfig:
    """``config`` with the budgets of chain reads given, in orders a second, bursts of 10 s
    of it (at least 1): ``--chain-read-limit`` per client address, ``--peer-chain-read-limit``
    per peer, ``--chain-read-total`` all together (``sdex.node.readbudget``); ``ValueError``
    for a rate that is not a number above 0 (at most 1,000,000)."""
    names = ("--chain-read-limit", "--peer-chain-read-limit", "--chain-read-total")
    limits: list[RateLimit | None] = []
    for name, rate in zip(names, (per_client, per_peer, total), strict=True):
        if rate is not None and not 0 < rate <= 1_000_000:  # (also NaN)
            raise ValueError(f"{name} must be orders a second above 0, not {rate!r}")
        burst = None if rate is None else max(1, math.ceil(10 * rate))
        limits.append(None if rate is None or burst is None else RateLimit(rate, burst))
    client, peer, every = limits
    return replace(
        config,
        chain_read_limit=client or config.chain_read_limit,
        peer_chain_read_limit=peer or config.peer_chain_read_limit,
        chain_read_total=every or config.chain_read_total,
    )


LISTING_BURST_FLOOR = 2_000
"""The least burst of a listing bucket: a full order-book page (``perPage=1000``, two sides)."""


def http_bounds(
    config: NodeConfig,
    per_client: int | None = None,
    total: int | None = None,
    idle_timeout: float | None = None,
) -> NodeConfig:
    """``config`` with the HTTP connection bounds given (``--max-http-per-client``,
    ``--max-http``, ``--http-idle-timeout``); ``ValueError`` for a count under 1 or an idle
    timeout that is not a number of seconds above 0 (at most a day)."""
    for name, count in (("--max-http-per-client", per_client), ("--max-http", total)):
        if count is not None and count < 1:
            raise ValueError(f"{name} must be at least 1, not {count}")
    if idle_timeout is not None and not 0 < idle_timeout <= 86_400:  # (also NaN)
        raise ValueError(f"--http-idle-timeout must be seconds above 0, not {idle_timeout!r}")
    return replace(
        config,
        max_http_per_client=config.max_http_per_client if per_client is None else per_client,
        max_http=config.max_http if total is None else total,
        http_idle_timeout=config.http_idle_timeout if idle_timeout is None else idle_timeout,
    )


def scaled_gossip(gossip: GossipConfig, scale: float) -> GossipConfig:
    """``gossip`` with its timers' intervals (dial, anti-entropy, peer exchange) times
    ``scale`` (0.01 to 1, else ``ValueError``): a small network that converges sooner, for
    tests and demos; 1 keeps the defaults."""
    if not 0.01 <= scale <= 1.0:  # (also NaN)
        raise ValueError(f"--gossip-scale must be from 0.01 to 1, not {scale!r}")
    if scale == 1.0:
        return gossip
    return replace(
        gossip,
        dial_interval=gossip.dial_interval * scale,
        ae_interval=gossip.ae_interval * scale,
        peer_exchange_interval=gossip.peer_exchange_interval * scale,
    )


def _dev_accounts(d: Deployment) -> tuple[DevAccount, ...]:
    """The dev keys ``--dev-wallets`` serves: a devnet's, never a real chain's."""
    if d.chain_id not in DEVNET_CHAIN_IDS:
        raise ValueError(f"--dev-wallets is for a devnet only, and chain {d.chain_id} is not one")
    if not d.accounts:
        raise ValueError("--dev-wallets: the deployment file lists no dev accounts")
    return tuple(d.accounts)
