"""HTTP gossip between nodes (``/p2p/``): push, bootstrap, anti-entropy, peer exchange.

- **Push**: every order a node accepts for the first time (from a wallet or a peer) is
  queued for ``fanout`` random peers (never back to the peer it came from). Each peer has a
  bounded outbox drained in batches by one sender task; a full outbox drops its oldest
  entries, which anti-entropy repairs. Receivers de-duplicate by order hash (``Known``).
- **Never trust a peer**: every order a peer sends goes through ``Node.submit``, the same
  intake as a wallet's. Orders that prove bad faith (malformed, forged, impossible) cost the
  peer points; a banned peer gets 403 and nothing it sends is stored or forwarded.
- **Bootstrap**: a new or restarted node asks a peer for its peers, then pages through its
  open orders (``/p2p/snapshot``, cursor-paged by the peer's arrival sequence).
- **Anti-entropy**: every ``ae_interval`` a node compares digests with one random peer: 256
  buckets by the hash's first byte, each the XOR of its open order hashes; for buckets that
  differ it fetches the peer's hashes and pulls the orders it lacks.
- **Notices**: soft cancels (checked against the maker's signature) and settlement notices
  (checked against the transaction's receipt on chain) travel the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp

from sdex.gossip.peers import Peer, Peers

if TYPE_CHECKING:
    from sdex.node.core import Node

log = logging.getLogger("sdex.gossip")

NODE_HEADER = "X-SDEX-Node"
"""Who is talking: the sender's base URL (used for scores, rate limits and exclusion)."""


@dataclass
class GossipConfig:
    fanout: int = 4
    batch_max: int = 256
    """Orders per push: one batched chain read at the receiver."""
    outbox_max: int = 20_000
    flush_delay: float = 0.002
    """Seconds a sender waits for more orders before a push (a batch forms under load)."""
    timeout: float = 30.0
    """A push is answered once the receiver has checked every order in it: under load that
    takes a while, and resending a batch the receiver is still checking only adds load."""
    ae_interval: float = 1.0
    snapshot_page: int = 500
    peer_exchange_interval: float = 5.0


@dataclass
class Outbox:
    peer: Peer
    orders: deque[dict[str, Any]] = field(default_factory=deque)
    notices: deque[tuple[str, dict[str, Any]]] = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    dropped: int = 0


class Gossip:
    def __init__(
        self, node: Node, me: str, seeds: Iterable[str], config: GossipConfig | None = None
    ) -> None:
        self.node = node
        self.config = config or GossipConfig()
        self.peers = Peers(me)
        self.me = self.peers.me
        for url in seeds:
            self.peers.add(url)
        self._outboxes: dict[str, Outbox] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self.orders_sent = 0
        self.messages_sent = 0
        self.pulled = 0
        self.bootstrapped = asyncio.Event()
        self.links_blocked: set[str] = set()
        """Peers this node pretends it cannot reach (tests: network partitions)."""

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout),
            headers={NODE_HEADER: self.me},
        )
        self._tasks = [
            asyncio.create_task(self._bootstrap(), name="gossip-bootstrap"),
            asyncio.create_task(self._anti_entropy_loop(), name="gossip-ae"),
            asyncio.create_task(self._peer_exchange_loop(), name="gossip-px"),
        ]

    async def stop(self) -> None:
        tasks = self._tasks + [o.task for o in self._outboxes.values() if o.task is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._session is not None:
            await self._session.close()

    # ---- outgoing -------------------------------------------------------------------------

    def announce(self, order_json: dict[str, Any], exclude: str | None = None) -> None:
        """Push a newly accepted order to ``fanout`` peers (not back to ``exclude``)."""
        for peer in self.peers.sample(self.config.fanout, exclude):
            box = self._outbox(peer)
            if len(box.orders) >= self.config.outbox_max:
                box.orders.popleft()
                box.dropped += 1
            box.orders.append(order_json)
            box.wake.set()

    def notify(self, kind: str, notice: dict[str, Any], exclude: str | None = None) -> None:
        """Send a cancel or settlement notice to every live peer (they are rare and small)."""
        for peer in self.peers.sample(len(self.peers), exclude):
            box = self._outbox(peer)
            if len(box.notices) < self.config.outbox_max:
                box.notices.append((kind, notice))
                box.wake.set()

    def _outbox(self, peer: Peer) -> Outbox:
        box = self._outboxes.get(peer.url)
        if box is None:
            box = self._outboxes[peer.url] = Outbox(peer)
            box.task = asyncio.create_task(self._drain(box), name=f"gossip-to-{peer.url}")
        return box

    async def _drain(self, box: Outbox) -> None:
        cfg = self.config
        while True:
            await box.wake.wait()
            box.wake.clear()
            if cfg.flush_delay:
                await asyncio.sleep(cfg.flush_delay)  # let a batch form
            while box.orders or box.notices:
                now = time.monotonic()
                if not box.peer.reachable(now):
                    await asyncio.sleep(min(5.0, max(0.01, box.peer.retry_at - now)))
                    continue
                if box.notices:
                    kind, notice = box.notices[0]
                    if await self._post(box.peer, f"/p2p/{kind}", notice) is not None:
                        box.notices.popleft()
                    continue
                batch = [box.orders.popleft() for _ in range(min(cfg.batch_max, len(box.orders)))]
                if await self._post(box.peer, "/p2p/orders", {"orders": batch}) is None:
                    box.orders.extendleft(reversed(batch))  # retried after the backoff
                else:
                    box.peer.sent += len(batch)
                    self.orders_sent += len(batch)

    async def _post(self, peer: Peer, path: str, body: object) -> dict[str, Any] | None:
        return await self._request("POST", peer, path, json=body)

    async def _get(
        self, peer: Peer, path: str, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        return await self._request("GET", peer, path, params=params)

    async def _request(
        self,
        method: str,
        peer: Peer,
        path: str,
        json: object = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One call to a peer; None (and the peer backs off) when it fails."""
        assert self._session is not None
        if peer.url in self.links_blocked:
            self.peers.failed(peer)
            return None
        self.messages_sent += 1
        try:
            async with self._session.request(
                method, peer.url + path, json=json, params=params
            ) as r:
                if r.status == 403:  # it banned us; nothing to gain by insisting
                    self.peers.failed(peer)
                    return None
                if r.status >= 400:
                    raise aiohttp.ClientResponseError(
                        r.request_info, r.history, status=r.status, message=await r.text()
                    )
                body = await r.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as e:
            log.debug("peer %s %s %s failed: %s", peer.url, method, path, e)
            self.peers.failed(peer)
            return None
        self.peers.ok(peer)
        return body if isinstance(body, dict) else None

    # ---- incoming (called by the routes) ---------------------------------------------------

    async def receive_orders(self, sender: str, orders: list[object]) -> dict[str, int]:
        """Orders a peer pushed: each through the node's intake; new ones go on."""
        peer = self.peers.add(sender)
        counts = {"accepted": 0, "known": 0, "rejected": 0}
        bad = 0
        # all at once: their chain reads share one batched eth_call
        results = await asyncio.gather(*(self.node.submit_from_peer(obj, sender) for obj in orders))
        for result in results:
            if result == "forged":
                bad += 1
                result = "rejected"
            counts[result] += 1
        if peer is not None:
            peer.received += len(orders)
        if bad:
            self.peers.penalize(sender, bad)
        elif counts["accepted"]:
            self.peers.reward(sender)
        return counts

    # ---- bootstrap, anti-entropy, peer exchange ---------------------------------------------

    async def _bootstrap(self) -> None:
        """Learn peers and load a peer's open orders, then announce ourselves."""
        try:
            for peer in list(self.peers.live()):
                await self._exchange_peers(peer)
            for peer in self.peers.sample(1):
                await self._load_snapshot(peer)
        finally:
            self.bootstrapped.set()

    async def _load_snapshot(self, peer: Peer) -> None:
        after = 0
        while True:
            page = await self._get(
                peer,
                "/p2p/snapshot",
                {"after": str(after), "limit": str(self.config.snapshot_page)},
            )
            if page is None:
                return
            orders = page.get("orders", [])
            if not isinstance(orders, list) or not orders:
                return
            await self.receive_orders(peer.url, orders)
            self.pulled += len(orders)
            nxt = page.get("next")
            if not isinstance(nxt, int) or nxt <= after:
                return
            after = nxt

    async def _exchange_peers(self, peer: Peer) -> None:
        answer = await self._post(peer, "/p2p/hello", {"url": self.me, "peers": self.peers.urls()})
        if answer is None:
            return
        urls = answer.get("peers", [])
        if isinstance(urls, list):
            for url in urls[:64]:
                if isinstance(url, str):
                    self.peers.add(url)

    async def _peer_exchange_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.peer_exchange_interval * random.uniform(0.8, 1.2))
            for peer in self.peers.sample(1):
                await self._exchange_peers(peer)

    async def _anti_entropy_loop(self) -> None:
        await self.bootstrapped.wait()
        while True:
            await asyncio.sleep(self.config.ae_interval * random.uniform(0.8, 1.2))
            for peer in self.peers.sample(1):
                try:
                    await self.anti_entropy(peer)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("anti-entropy with %s failed", peer.url)

    async def anti_entropy(self, peer: Peer) -> int:
        """Pull the open orders ``peer`` has and we lack; the number pulled."""
        theirs = await self._get(peer, "/p2p/digest")
        if theirs is None:
            return 0
        mine = self.node.digest()
        buckets = [
            i
            for i, (a, b) in enumerate(zip(mine, theirs.get("buckets", []), strict=False))
            if a != b
        ]
        if not buckets:
            return 0
        answer = await self._post(peer, "/p2p/hashes", {"buckets": buckets})
        if answer is None:
            return 0
        theirs_open = {h for h in answer.get("hashes", []) if isinstance(h, str)}
        missing = [h for h in theirs_open if not self.node.knows(h)]
        # open here, not there: ask why (a soft cancel we missed comes with its signature)
        extra = [h for h in self.node.hashes_in(buckets) if h not in theirs_open]
        pulled = 0
        step = self.config.batch_max
        for i in range(0, max(len(missing), len(extra)), step):
            got = await self._post(
                peer, "/p2p/fetch", {"hashes": missing[i : i + step], "why": extra[i : i + step]}
            )
            if got is None:
                break
            orders = got.get("orders", [])
            if isinstance(orders, list) and orders:
                await self.receive_orders(peer.url, orders)
                pulled += len(orders)
            for notice in got.get("cancels", []) if isinstance(got.get("cancels"), list) else []:
                self.node.cancel_notice(notice, peer.url)
        self.pulled += pulled
        return pulled

    def stats(self) -> dict[str, object]:
        return {
            "peers": self.peers.to_json(),
            "ordersSent": self.orders_sent,
            "messagesSent": self.messages_sent,
            "pulled": self.pulled,
            "outboxDropped": sum(b.dropped for b in self._outboxes.values()),
        }
