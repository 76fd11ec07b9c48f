"""HTTP gossip between nodes (``/p2p/``): push, bootstrap, anti-entropy, peer exchange.

- **Push**: every order a node accepts for the first time (from a wallet or a peer) is
  queued for ``fanout`` random peers (never back to the peer it came from). Each peer has a
  bounded outbox drained in batches by one sender task; a full outbox drops its oldest
  entries, which anti-entropy repairs. Receivers de-duplicate by order hash (``Known``).
- **Never trust a peer**: every order a peer sends goes through ``Node.submit``, the same
  intake as a wallet's. Orders that prove bad faith (malformed, forged, impossible) cost the
  peer points; a banned peer gets 403 and nothing it sends is stored or forwarded.
- **Identity**: every request and answer is signed by the sender's node key
  (``sdex.gossip.identity``); a peer is the id that signed. A URL enters the peer table only
  after it answered a signed ``hello`` (``sdex.gossip.peers``: candidates, quotas, eviction).
- **Bootstrap**: a new or restarted node says hello to its seeds, then pages through one
  peer's open orders (``/p2p/snapshot``, cursor-paged by the peer's arrival sequence),
  bounded in pages, orders per page and time.
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

from sdex.gossip.client import Answer, PeerCallError, PeerClient
from sdex.gossip.identity import NodeKey
from sdex.gossip.peers import Peer, Peers, normalize

if TYPE_CHECKING:
    from sdex.node.core import Node

log = logging.getLogger("sdex.gossip")


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
    snapshot_seconds: float = 120.0
    """The longest a bootstrap may pull from one peer."""
    ae_max_fetches: int = 4
    """Fetch calls per anti-entropy round (each at most ``batch_max`` orders)."""
    peer_exchange_interval: float = 5.0
    dial_interval: float = 0.5
    dial_timeout: float = 5.0
    intake_chunk: int = 32
    """Peer orders checked between two turns of the event loop (wallets go first)."""


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
        self,
        node: Node,
        me: str,
        seeds: Iterable[str],
        config: GossipConfig | None = None,
        key: NodeKey | None = None,
    ) -> None:
        self.node = node
        self.config = config or GossipConfig()
        self.key = key or NodeKey.generate()
        self.node_id = self.key.node_id
        self.peers = Peers(self.node_id, me)
        self.me = self.peers.me
        for url in seeds:
            self.peers.add_seed(url)
        self._outboxes: dict[str, Outbox] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None
        self._client: PeerClient | None = None
        self._dialing: set[str] = set()
        self._peer_work = asyncio.Semaphore(1)
        """One peer batch is checked at a time, in chunks: peers never starve wallets."""
        self.orders_sent = 0
        self.messages_sent = 0
        self.pulled = 0
        self.bootstrapped = asyncio.Event()
        self.links_blocked: set[str] = set()
        """Peer URLs this node pretends it cannot reach (tests: network partitions)."""

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.timeout)
        )
        self._client = PeerClient(self._session, self.key, self.me)
        self._tasks = [
            asyncio.create_task(self._bootstrap(), name="gossip-bootstrap"),
            asyncio.create_task(self._anti_entropy_loop(), name="gossip-ae"),
            asyncio.create_task(self._peer_exchange_loop(), name="gossip-px"),
            asyncio.create_task(self._dial_loop(), name="gossip-dial"),
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
        """Push a newly accepted order to ``fanout`` peers (not back to the id ``exclude``)."""
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
        box = self._outboxes.get(peer.key)
        if box is None or box.peer is not peer:
            if box is not None and box.task is not None:
                box.task.cancel()
            box = self._outboxes[peer.key] = Outbox(peer)
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
                if self.peers.get(box.peer.key) is not box.peer:
                    box.orders.clear()  # evicted: anti-entropy repairs what it misses
                    box.notices.clear()
                    break
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
        return await self._request("POST", peer, path, body=body)

    async def _get(
        self, peer: Peer, path: str, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None:
        return await self._request("GET", peer, path, params=params)

    async def _request(
        self,
        method: str,
        peer: Peer,
        path: str,
        body: object = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """One call to an admitted peer; None (and the peer backs off) when it fails, or
        when the answer is not signed by the key that peer proved."""
        answer = await self._call(method, peer.url, path, body, params)
        if answer is None or answer.status == 403:  # 403: it banned us; no use insisting
            self.peers.failed(peer)
            return None
        if answer.status >= 300 or answer.signer != peer.key:
            if answer.status < 300:
                log.warning("%s answered as %s, not %s: dropped", peer.url, answer.signer, peer.key)
            self.peers.failed(peer)
            return None
        self.peers.ok(peer)
        return answer.body if isinstance(answer.body, dict) else None

    async def _call(
        self,
        method: str,
        url: str,
        path: str,
        body: object = None,
        params: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Answer | None:
        assert self._client is not None
        if url in self.links_blocked:
            return None
        self.messages_sent += 1
        try:
            return await self._client.call(method, url, path, body, params, timeout=timeout)
        except PeerCallError as e:
            log.debug("peer call failed: %s", e)
            return None

    # ---- incoming (called by the routes) ---------------------------------------------------

    async def receive_orders(self, sender: str, orders: list[object]) -> dict[str, int]:
        """Orders the peer with id ``sender`` pushed: each through the node's intake; new
        ones go on. One peer batch at a time, in chunks, so wallets' orders go first."""
        counts = {"accepted": 0, "known": 0, "rejected": 0}
        bad = 0
        step = self.config.intake_chunk
        async with self._peer_work:
            for i in range(0, len(orders), step):
                if self.peers.is_banned(sender):
                    counts["rejected"] += len(orders) - i
                    break
                chunk = orders[i : i + step]
                # a chunk at once: their chain reads share one batched eth_call
                results = await asyncio.gather(
                    *(self.node.submit_from_peer(obj, sender) for obj in chunk)
                )
                chunk_bad = 0
                for result in results:
                    if result == "forged":
                        chunk_bad += 1
                        result = "rejected"
                    counts[result] += 1
                if chunk_bad:
                    self.peers.penalize(sender, chunk_bad)
                    bad += chunk_bad
                await asyncio.sleep(0)  # let waiting wallet requests run
        peer = self.peers.get(sender)
        if peer is not None:
            peer.received += len(orders)
        if not bad and counts["accepted"]:
            self.peers.reward(sender)
        return counts

    def hello_from(self, sender: str, url: str, urls: object) -> None:
        """A signed hello: dial its claimed URL back (that proves it), and take the URLs it
        shares as candidates, within its quota."""
        peer = self.peers.get(sender)
        if peer is None or peer.url != normalize(url):
            self.peers.introduce(url, sender)
        if isinstance(urls, list):
            for u in urls[:64]:
                self.peers.introduce(u, sender)

    # ---- admission: signed hellos ---------------------------------------------------------

    async def dial(self, url: str) -> Peer | None:
        """Say hello to ``url``; admit the key that signs the answer."""
        url = normalize(url)
        if url in self._dialing:
            return None
        self._dialing.add(url)
        try:
            answer = await self._call(
                "POST",
                url,
                "/p2p/hello",
                {"url": self.me, "peers": self.peers.urls()},
                timeout=self.config.dial_timeout,
            )
        finally:
            self._dialing.discard(url)
        if answer is None or answer.status >= 300 or answer.signer is None:
            self.peers.dial_failed(url)
            return None
        peer = self.peers.admit(answer.signer, url)
        if peer is None:
            return None
        body = answer.body if isinstance(answer.body, dict) else {}
        urls = body.get("peers")
        if isinstance(urls, list):
            for u in urls[:64]:
                self.peers.introduce(u, peer.key)
        return peer

    async def _dial_loop(self) -> None:
        """Dial candidates a few at a time; evict peers that keep failing."""
        while True:
            for url in self.peers.evict_failing():
                log.info("peer at %s kept failing: evicted", url)
            urls = [u for u in self.peers.take_candidates(4) if u not in self.links_blocked]
            if urls:
                await asyncio.gather(*(self.dial(u) for u in urls))
            await asyncio.sleep(self.config.dial_interval * random.uniform(0.8, 1.2))

    # ---- bootstrap, anti-entropy, peer exchange ---------------------------------------------

    async def _bootstrap(self) -> None:
        """Say hello to the seeds and load one admitted peer's open orders."""
        try:
            seeds = self.peers.take_candidates(len(self.peers.candidates))
            await asyncio.gather(*(self.dial(u) for u in seeds))
            for peer in self.peers.sample(1):
                await self._load_snapshot(peer)
        finally:
            self.bootstrapped.set()

    async def _load_snapshot(self, peer: Peer) -> None:
        """Page through ``peer``'s open orders, bounded: pages (no more orders than this node
        may hold), orders per page (what we asked), time, a cursor that must grow, and the
        first ban ends it. A lying peer costs a bounded amount of work, then anti-entropy
        (with another peer) takes over."""
        cfg = self.config
        after = 0
        deadline = time.monotonic() + cfg.snapshot_seconds
        max_pages = self.node.config.limits.max_orders // cfg.snapshot_page + 2
        for _ in range(max_pages):
            if time.monotonic() > deadline or self.peers.is_banned(peer.key):
                return
            page = await self._get(
                peer, "/p2p/snapshot", {"after": str(after), "limit": str(cfg.snapshot_page)}
            )
            if page is None:
                return
            orders = page.get("orders", [])
            nxt = page.get("next")
            if not isinstance(orders, list) or len(orders) > cfg.snapshot_page:
                self.peers.penalize(peer.key)  # more than we asked for: no honest node does
                return
            if not orders:
                return
            counts = await self.receive_orders(peer.key, orders)
            self.pulled += counts["accepted"]
            if not isinstance(nxt, int) or isinstance(nxt, bool) or nxt <= after:
                return
            if counts["accepted"] == 0 and counts["known"] == 0:
                return  # a page with nothing usable: stop asking this peer
            after = nxt

    async def _peer_exchange_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.peer_exchange_interval * random.uniform(0.8, 1.2))
            for peer in self.peers.sample(1):
                await self.dial(peer.url)

    async def _anti_entropy_loop(self) -> None:
        with contextlib.suppress(TimeoutError):  # a slow (or lying) bootstrap never blocks it
            await asyncio.wait_for(self.bootstrapped.wait(), 10.0)
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
        """Pull the open orders ``peer`` has and we lack; the number pulled.

        Bounded per round: ``ae_max_fetches`` fetches of at most ``batch_max`` hashes; an
        answer with more orders than asked for, or from a peer that got banned on the way,
        ends the round."""
        cfg = self.config
        theirs = await self._get(peer, "/p2p/digest")
        if theirs is None:
            return 0
        their_buckets = theirs.get("buckets")
        if not isinstance(their_buckets, list) or len(their_buckets) != 256:
            self.peers.penalize(peer.key)
            return 0
        mine = self.node.digest()
        buckets = [i for i, (a, b) in enumerate(zip(mine, their_buckets, strict=True)) if a != b]
        if not buckets:
            return 0
        answer = await self._post(peer, "/p2p/hashes", {"buckets": buckets})
        if answer is None:
            return 0
        hashes = answer.get("hashes")
        if not isinstance(hashes, list) or len(hashes) > self.node.config.limits.max_orders:
            self.peers.penalize(peer.key)
            return 0
        theirs_open = {h for h in hashes if isinstance(h, str) and len(h) == 66}
        missing = [h for h in theirs_open if not self.node.knows(h)]
        # open here, not there: ask why (a soft cancel we missed comes with its signature)
        extra = [h for h in self.node.hashes_in(buckets) if h not in theirs_open]
        pulled = 0
        step = cfg.batch_max
        rounds = min(cfg.ae_max_fetches, -(-max(len(missing), len(extra)) // step))
        for i in range(0, rounds * step, step):
            if self.peers.is_banned(peer.key):
                break
            want, why = missing[i : i + step], extra[i : i + step]
            got = await self._post(peer, "/p2p/fetch", {"hashes": want, "why": why})
            if got is None:
                break
            orders, cancels = got.get("orders", []), got.get("cancels", [])
            if (
                not isinstance(orders, list)
                or not isinstance(cancels, list)
                or len(orders) > len(want)
                or len(cancels) > len(why)
            ):
                self.peers.penalize(peer.key)  # more than we asked for
                break
            if orders:
                counts = await self.receive_orders(peer.key, orders)
                pulled += counts["accepted"]
            for notice in cancels:
                self.node.cancel_notice(notice, peer.key)
        self.pulled += pulled
        return pulled

    def stats(self) -> dict[str, object]:
        return {
            "nodeId": self.node_id,
            "peers": self.peers.to_json(),
            "candidates": len(self.peers.candidates),
            "ordersSent": self.orders_sent,
            "messagesSent": self.messages_sent,
            "pulled": self.pulled,
            "outboxDropped": sum(b.dropped for b in self._outboxes.values()),
        }
