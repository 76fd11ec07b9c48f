"""The gossip core (``sdex.gossip.core``) behind aiohttp: the driver that does its I/O.

It feeds the core its events (the node accepted an order, a notice, a peer's answer, an
intake result, a timer) and carries out the actions it returns: every ``Call`` is one signed
frame on the authenticated stream this node dialed to that peer (``sdex.gossip.stream``), or,
with no stream open (an older peer, a hello, a stream that broke), one signed HTTP request
(``sdex.gossip.client``); either way its verified answer goes back to the core; every
``Check`` runs a peer's orders through the node's intake, one peer batch at a time and in
chunks of ``intake_chunk`` (each chunk one call: the copies the node holds already cost no
task each), so peers never starve wallets. Orders the node accepts during one turn of the
event loop reach the core together (one look at the mesh for all of them), and the core's
timers are one ``loop.call_at`` handle, re-armed when the next one moves earlier. The
routes that serve peers' requests are in ``sdex.gossip.routes``. The node is reached only through
``sdex.gossip.ports.NodePort``: nothing here imports ``sdex.node``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from sdex.gossip import payload
from sdex.gossip.actions import Action, Call, Check, Deliver, Evicted, GossipConfig, Reply, Scored
from sdex.gossip.actions import tally as tally
from sdex.gossip.budgets import cancelled_budget, fetch_budget, snapshot_budget
from sdex.gossip.checks import CheckHooks, PeerChecks, reads_owner
from sdex.gossip.client import NotAPeer, NotLookedUp, PeerCallError, PeerClient, peer_session
from sdex.gossip.core import GossipCore
from sdex.gossip.fetchedcancels import FetchedCancels
from sdex.gossip.identity import NodeKey
from sdex.gossip.listing import listing_budget
from sdex.gossip.metered import Costs
from sdex.gossip.notpeer import sdex_error, what_answered
from sdex.gossip.ports import NodePort
from sdex.gossip.quietlog import Quiet
from sdex.gossip.refusals import RefusalGate
from sdex.gossip.stream import StreamDown, cancel_all
from sdex.gossip.streams import Streams
from sdex.gossip.timing import GC_PAUSES, LOOP_TURNS, CheckTiming, PushTiming, thread_cpu

__all__ = ["Gossip", "GossipConfig"]

log = logging.getLogger("sdex.gossip")


class Gossip:
    def __init__(
        self,
        node: NodePort,
        me: str,
        seeds: Iterable[str],
        config: GossipConfig | None = None,
        key: NodeKey | None = None,
        max_orders: int = 100_000,
    ) -> None:
        self.node = node
        self.key = key or NodeKey.generate()
        self.node_id = self.key.node_id
        self.core = GossipCore(self.node_id, me, seeds, node, config, max_orders=max_orders)
        self.config = self.core.config
        self.peers = self.core.peers
        self.me = self.core.me
        self.links_blocked = self.core.links_blocked
        """Peer URLs this node pretends it cannot reach (tests: network partitions)."""
        self.messages_sent = 0
        self.cut_calls = Quiet(log)
        """Calls skipped for a cut link: counted, said in the debug log at a bounded rate."""
        self.check_timing = CheckTiming()
        """What each new order of a peer's cost the intake (``/health``: the simulator's shape)."""
        self.push_timing = PushTiming()
        """Where an order's time goes between nodes: outbox hold, round trip, queue, check."""
        GC_PAUSES.install()
        self._session: aiohttp.ClientSession | None = None
        self._client: PeerClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned: set[str] = set()
        """Seed URLs already named in a "not an SDEX node" warning (one each)."""
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due = 0.0
        self.timer_wakeups = 0
        self.listings = listing_budget(self.config.ae_interval)
        """Hashes each admitted peer may be listed (``POST /p2p/hashes``)."""
        self.fetches = fetch_budget(self.config)
        """Orders each admitted peer (and all strangers together) may be answered by
        ``POST /p2p/fetch``."""
        self.snapshots = snapshot_budget(self.config, max_orders)
        """The same, by ``GET /p2p/snapshot``'s pages."""
        self.cancelled_pages = cancelled_budget(self.config, max_orders)
        """The same, by ``GET /p2p/cancelled``'s pages."""
        self.refusals = RefusalGate()
        self.peer_costs = Costs()
        """Admitted peers' requests' loop time and charges (``sdex.gossip.metered``)."""
        """Budgets of refused ``/p2p/`` requests per client address (``/health``)."""
        """Times the core's timer ran (``/health`` ``timerWakeups``)."""
        self._running = False
        self._stopped = False
        """Set by ``stop``: nothing is spawned from then on (no client session any more)."""
        self._fresh: list[tuple[dict[str, Any], str | None]] = []
        """Orders accepted this turn of the loop, handed to the core together at its end."""
        self.spawned: Callable[[], None] | None = None
        """Called once a turn's orders are with the core and their pushes spawned (the
        node's ``forwardTiming``: they are written next turn)."""
        self.checks = PeerChecks(
            CheckHooks(
                submit=lambda objs, senders, reading: self.node.submit_each_from_peer(
                    objs, senders, reading
                ),
                banned=self.peers.is_banned,
                judge=lambda check_id, verdicts: self._run(self.core.judge(check_id, verdicts)),
                penalize=self.penalize,
                chunk=lambda: self.config.intake_chunk,
                timing=self.check_timing,
                reads=lambda: self.config.reads_pending,
                reads_per_peer=lambda: self.config.reads_pending_per_peer,
                owner=self.reads_owner,
                paid=lambda *charge: self.intake_paid(*charge),
                on_loop=lambda: self.node.signatures_on_loop(),
                over=lambda sender: self.intake_over(sender),
                known=lambda obj: self.node.known_copy(obj),
            )
        )
        """One group of peers' new orders in the intake at a time: peers never starve
        wallets, and the checks that waited meanwhile go in together (a group's orders left
        waiting on chain reads do not hold the next)."""
        self.intake_paid: Callable[[str, float, int, int, int], None] = lambda *_: None
        """A pusher's share of its orders' intake, charged (the routes': ``gate.intake_spent``)."""
        self.intake_over: Callable[[str], bool] = lambda _: False
        """Is a pusher's request budget spent? (the routes': ``gate.in_debt``)"""
        self.fetched = FetchedCancels(self.node, self._spawn)
        """Cancels anti-entropy fetched: stored as a pushed one is, or taken again."""
        self.streams: Streams | None = None
        if self.config.streams:
            self.streams = Streams(self.key, self.me, self.penalize, self.config.dial_timeout)

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._session = peer_session(self.config.timeout)  # (answers' addresses: review31)
        self._client = PeerClient(self._session, self.key, self.me)
        if self.streams is not None:
            self.streams.session = self._session
        self._running = True
        LOOP_TURNS.install(asyncio.get_running_loop())
        self._run(self.core.start())

    async def stop(self) -> None:
        self._running = False
        self._stopped = True  # (``_running`` is False before ``start`` too: calls go then)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await cancel_all(self._tasks)
        await self.checks.close()
        if self.streams is not None:
            await self.streams.close()
        if self._session is not None:
            await self._session.close()

    async def close_streams(self) -> None:
        """Close every stream (the HTTP server is shutting down; calls go on over HTTP)."""
        if self.streams is not None:
            await self.streams.close()

    # ---- events from the node ---------------------------------------------------------------

    def announce(
        self, order_json: dict[str, Any], exclude: str | None = None, text: str | None = None
    ) -> None:
        """Push a newly accepted order to the mesh (not back to the id ``exclude``): with the
        others accepted in this turn of the event loop, at its end. ``text``: its JSON
        text (``json.dumps``'s) if the node has it (then the pushes do not encode it again)."""
        if text is not None:
            payload.remember(order_json, text.encode())
        if not self._fresh:
            asyncio.get_running_loop().call_soon(self._announce_fresh)
        self.push_timing.handed(order_json, time.perf_counter())
        self._fresh.append((order_json, exclude))

    def _announce_fresh(self) -> None:
        fresh, self._fresh = self._fresh, []
        try:
            if fresh and self._running:
                self._run(self.core.accepted_many(fresh))
        finally:  # (the timing closes its spans whatever the pushes did)
            if self.spawned is not None:
                try:
                    self.spawned()
                except Exception:  # a measuring hook never breaks gossip
                    log.exception("the spawned hook failed")

    def hello(
        self, sender: str, url: str, body: dict[str, Any], to: str, address: str | None
    ) -> dict[str, object]:
        """``GossipCore.hello``'s answer; a peer's backoff it ended makes a timer due now."""
        answer = self.core.hello(sender, url, body, to=to, address=address)
        self._arm()
        return answer

    def notify(self, kind: str, notice: dict[str, Any], exclude: str | None = None) -> None:
        """Send a cancel or settlement notice to every live peer."""
        self._run(self.core.notify(kind, notice, exclude))

    def reads_owner(self, sender: str) -> str:
        """Whose bound of pending reads ``sender``'s orders count against (``reads_owner``),
        and whose budget of chain reads they spend (``sdex.node.readbudget.peer_sender``)."""
        c = self.config
        leading = self.peers.leading(c.reads_own_peers, c.reads_own_score)
        peer = self.peers.get(sender)
        return reads_owner(sender, sender in leading, None if peer is None else peer.host)

    def penalize(self, key: str, violations: int = 1) -> None:
        self._run(self.core.penalize(key, violations))

    async def run_check(self, check: Check) -> dict[str, int]:
        """A peer's orders through the node's intake, in chunks (wallets' orders go first);
        the counts a push answers. Forged ones cost the sender as soon as they are found.
        Copies held here already (``known_copy``: the very same JSON) need no check: a push
        of nothing else is answered at once, not queued behind other peers' checks of new
        orders (their ECDSA, their chunks); of a mixed one only the new orders are checked."""
        results: list[str] = []
        timing, asked = self.push_timing if check.push else None, time.perf_counter()
        try:
            known = self.node.known_copy
            held = [known(o) for o in check.orders]
            orders = [o for o, h in zip(check.orders, held, strict=True) if not h]
            if check.orders and not orders and not self.peers.is_banned(check.sender):
                return self._known(check)
            # its turn, its new orders with the other checks' waiting then (``PeerChecks``)
            results, began = await self.checks.run(check.sender, check.id, orders, check.push)
            if timing is not None:
                timing.queue.add((began - asked) * 1e6)
            if len(results) < len(held):  # the held copies (none a banned peer's)
                gone = self.peers.is_banned(check.sender)
                rest = ["rejected" if gone else "known"] * (len(held) - len(results))
                results = results + rest
                self._run(self.core.judge(check.id, rest))
            if timing is not None:
                timing.check.add((time.perf_counter() - began) * 1e6)
        finally:  # whatever happened, the core hears the check is over (a flow waits on it)
            self._run(self.core.checked(check.id))
        return tally(results)

    def answer_known(
        self, sender: str, orders: list[object], also: object = None, more: object = None
    ) -> dict[str, int] | None:
        """A push whose orders are all held here already (``known_copy``), answered in the
        caller's turn: what ``core.receive`` and ``run_check`` would do, without a task or a
        wait. ``None`` (nothing done) if any order is new, there are none, or the sender is
        banned: that push goes through ``run_check``."""
        if not self.holds_all(sender, orders):
            return None
        check = self.core.receive(sender, orders, also, more)
        try:
            return self._known(check)
        finally:
            self._run(self.core.checked(check.id))

    def holds_all(self, sender: str, orders: list[object]) -> bool:
        """Are there orders, all held here already, from a sender not banned?"""
        known = self.node.known_copy
        return bool(orders) and not self.peers.is_banned(sender) and all(map(known, orders))

    def _known(self, check: Check) -> dict[str, int]:
        """A check of copies all held already: each is known, none is checked again."""
        results = ["known"] * len(check.orders)
        if check.push:
            self.push_timing.known += 1
        self._run(self.core.judge(check.id, results))
        return tally(results)

    # ---- carrying out the core's actions -------------------------------------------------------

    def _run(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, Call):
                if a.kind == "push" and isinstance(a.body, dict):  # (``GossipCore._flush``)
                    orders = a.body.get("orders")
                    if orders:
                        self.push_timing.pushed(a.url, orders, time.perf_counter())
                if not (a.kind == "push" and self._push_now(a)):
                    self._spawn(self._call(a), f"gossip-{a.kind}")
            elif isinstance(a, Check):
                self._spawn(self._check(a), "gossip-check")
            elif isinstance(a, Deliver):  # (its commit waited for, retried: gossip93)
                self.fetched.take(a.sender, a.notice)
            elif isinstance(a, Scored) and a.banned:
                log.warning("peer %s banned: it sent invalid data", a.peer)
                if self.streams is not None:
                    self.streams.drop(a.peer)
            elif isinstance(a, Evicted):
                log.info("peer %s at %s kept failing: evicted", a.peer, a.url)
                if self.streams is not None:
                    self.streams.drop(a.peer)
        self._arm()

    def _arm(self) -> None:
        """Have ``_tick`` run when the core's next timer is due, and not before: a timer armed
        for work that went meanwhile (a held push whose answer came first) is moved, so the
        node is not woken for nothing (a cancelled handle wakes no one)."""
        if not self._running:
            return
        due = self.core.next_timer()  # the core's clock is time.monotonic, as the loop's
        if self._timer is not None:
            if self._timer_due == due:
                return
            self._timer.cancel()
            self._timer = None
        if due == math.inf:
            return
        self._timer_due = due
        self._timer = asyncio.get_running_loop().call_at(due, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.timer_wakeups += 1
        try:
            actions = self.core.tick()
        except Exception:  # a bug must not stop the timers: try again a little later
            log.exception("gossip timer failed")
            self._timer_due = asyncio.get_running_loop().time() + 0.1
            self._timer = asyncio.get_running_loop().call_at(self._timer_due, self._tick)
            return
        self._run(actions)

    def _spawn(self, coro: Any, name: str) -> None:
        if self._stopped:  # (chaos52: a settlement's notice after ``stop``, on the closed
            coro.close()  # session: an ERROR and a traceback a peer at each SIGTERM)
            return
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, call: Call, http: bool = False) -> None:
        """``call`` over its peer's stream, else over HTTP (``http``: HTTP only, the stream
        closed under a ``_push_now``); its answer, or None, to the core."""
        reply: Reply | None = None
        unlooked = False  # (its name not looked up: this node's shortage, not the peer's)
        if call.url in self.links_blocked:
            self.cut_calls.say("peer call %s to %s skipped: the link is cut", call.kind, call.url)
        else:
            self.messages_sent += 0 if http else 1  # (``_push_now`` counted it)
            left = time.perf_counter()
            try:
                reply = None if http else await self._streamed(call)
                if reply is None:  # no stream to that peer: one signed HTTP request
                    reply = await self._http(call)
                if call.kind == "push":
                    self.push_timing.round_trip.add((time.perf_counter() - left) * 1e6)
            except (PeerCallError, TimeoutError) as e:
                unlooked = isinstance(e, NotLookedUp)
                log.debug("peer call %s to %s failed: %s", call.kind, call.url, e)
            except Exception:  # never leave the core waiting for an answer
                log.exception("peer call to %s%s failed", call.url, call.path)
        if call.kind == "push" and reply is None:  # (its orders go again after the backoff)
            self.push_timing.failed_push(call.url, call.body)
        self._run(self.core.answered(call.id, reply, unlooked))

    def _push_now(self, call: Call) -> bool:
        """A push written to its peer's stream in this turn, no task; its answer handed to
        the core by the stream's reader (``Link.send_now``). False: no stream open to that
        peer, or it cannot take the frame now (``_call``'s task then sends it)."""
        streams = self.streams
        if streams is None or not call.peer or call.url in self.links_blocked:
            return False
        link = streams.link(call.peer, call.url)
        if link is None:
            return False
        left = time.perf_counter()

        def answered(result: tuple[int, Any] | BaseException) -> None:
            if not self._running:  # (stopping: as ``_call``'s cancelled task)
                return
            reply: Reply | None = None
            if isinstance(result, StreamDown):  # (as ``_call``: over HTTP instead)
                self._spawn(self._call(call, http=True), "gossip-push")
                return
            if isinstance(result, BaseException):
                log.debug("peer call %s to %s failed: %s", call.kind, call.url, result)
                if isinstance(result, TimeoutError):
                    streams.unanswered(link)
                self.push_timing.failed_push(call.url, call.body)
            else:
                self.push_timing.round_trip.add((time.perf_counter() - left) * 1e6)
                reply = Reply(result[0], link.peer, result[1])
            self._run(self.core.answered(call.id, reply))

        path = call.path.removeprefix("/p2p")
        timeout = call.timeout or self.config.timeout
        if not link.send_now(call.method, path, call.params, call.body, timeout, answered):
            return False
        streams.frames_sent += 1
        self.messages_sent += 1
        return True

    async def _http(self, call: Call) -> Reply:
        assert self._client is not None
        known = self.peers.by_url(call.url) if not call.peer else None  # (a hello)
        to = call.peer or (known.key if known is not None else "")
        try:
            a = await self._client.call(
                call.method,
                call.url,
                call.path,
                call.body,
                call.params,
                timeout=call.timeout,
                to=to,
            )
        except NotAPeer as e:
            if call.kind == "hello":
                await self._not_a_node(call.url, e.status, e.body)
            raise
        if call.kind == "hello" and a.status >= 300 and not sdex_error(a.body):
            await self._not_a_node(call.url, a.status, a.body)
        if call.peer and a.status < 300 and a.signer != call.peer:
            log.warning("%s answered as %s, not %s: dropped", call.url, a.signer, call.peer)
        return Reply(a.status, a.signer, a.body, a.address)

    async def _not_a_node(self, url: str, status: int, body: object) -> None:
        """Warn, once, that the seed (``--peer``) ``url`` answered a hello but not as an SDEX
        node (a URL a peer introduced is not the operator's mistake: no warning); a 404
        without a JSON body, whether it is a chain's JSON-RPC endpoint (anvil answers so)."""
        if url in self.peers.seeds and url not in self._warned:
            self._warned.add(url)
            client, rpc = self._client, False
            if status == 404 and body is None and client is not None:
                rpc = await client.speaks_json_rpc(url, self.config.timeout)
            log.warning(
                "--peer %s is not an SDEX node: %s; still trying it",
                url,
                what_answered(status, body, rpc),
            )

    async def _streamed(self, call: Call) -> Reply | None:
        """The call over the stream to its peer, or None: no stream (the caller uses HTTP)."""
        streams = self.streams
        if streams is None or not call.peer or call.kind == "hello":
            return None
        link = streams.link(call.peer, call.url)
        if link is None:
            return None
        timeout = call.timeout or self.config.timeout
        try:
            streams.frames_sent += 1
            path = call.path.removeprefix("/p2p")
            status, body = await link.request(call.method, path, call.params, call.body, timeout)
        except StreamDown:
            return None
        except TimeoutError:
            streams.unanswered(link)
            raise
        # (any status: the stream's frames are the peer's, proven by its session keys; over
        # HTTP only a route's own answer is signed, so ``Peers.verified`` checks ``signer``)
        return Reply(status, link.peer, body)

    async def _check(self, check: Check) -> None:
        try:
            if check.cancelled:
                await self._take_cancelled(check)
            else:
                await self.run_check(check)
        except Exception:
            log.exception("checking orders from %s failed", check.sender)

    async def _take_cancelled(self, check: Check) -> None:
        """A page of a peer's soft cancels to the node (it charges the peer for forged ones);
        then the bootstrap asks the next."""
        try:
            await self.node.take_cancelled_many(check.orders, check.sender)
        finally:
            self._run(self.core.checked(check.id))

    def stats(self) -> dict[str, object]:
        streams = self.streams.stats() if self.streams is not None else {}
        timing = {"checkTiming": self.check_timing.to_json(), "gc": GC_PAUSES.to_json(),
                  "pushTiming": self.push_timing.to_json(), "threadCpu": thread_cpu(),
                  "loopTurns": LOOP_TURNS.to_json()}  # fmt: skip
        groups = {"intakeGroups": self.checks.groups, "intakeMerged": self.checks.merged,
                  "intakeUnpaid": self.checks.unpaid}  # fmt: skip
        return {**self.core.stats(), "messagesSent": self.messages_sent, **streams, **timing,
                **groups, "timerWakeups": self.timer_wakeups, **self.fetched.to_json(),
                "refusals": self.refusals.to_json(),
                "peerRequests": self.peer_costs.to_json()}  # fmt: skip
