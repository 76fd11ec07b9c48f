"""The node: the only place that wires intake, store, book, engine, settler and watcher.

Every order, from a wallet or a peer, takes ``Node.submit``: intake (schema, rules,
signature, chain state) → stored (committed before any 2xx) → matched → rested or dropped.
Matches go to the settler; its results and the watcher's block changes come back here and
are applied to the book, the store and the event stream in one place.

``Node`` is built in layers, one concern a module, each a class the next extends:
``records`` (state and lookups; the order registry, ``sdex.node.registry``, holds every
record and makes every status transition) → ``views`` (JSON) → ``status`` (closing records) →
``intake`` (orders in, matching) → ``verdicts`` (mirror verdicts applied) → ``rejudge``
(closed orders judged again) → ``chainstate`` (blocks) → ``adoption`` (what a previous run
left pooled) → ``reload`` (stored orders at a start) → ``settle``
(settlement results) → ``peering`` (what gossip asks) → ``startchain`` (the chain read at a
start: deployment block, clock, nonce floor) → ``core`` (wiring, lifecycle).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from sdex.book import OrderBook
from sdex.chain import Sender
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import SEND_MAX_RESPONSE, AsyncRpc
from sdex.chain.feebounds import base_fee_of
from sdex.errors import ChainError
from sdex.gossip import Gossip
from sdex.gossip.identity import NodeKey
from sdex.gossip.stream import cancel_all
from sdex.ingest import Intake, StateBatcher
from sdex.ingest.rejections import FOLLOWING
from sdex.ingest.verify import CONTRACT_CONNECTIONS, Eip1271Batcher
from sdex.matching import MatchingEngine
from sdex.mirror import Header, Mirror
from sdex.model import OPEN_STATUSES
from sdex.node import readbudget
from sdex.node.held import EVICT_BATCH
from sdex.node.process import http_url
from sdex.node.readbudget import STRANGERS, ReadBudget, ReadCeiling
from sdex.node.records import CROSS_GRACE, Record, SubmitResult
from sdex.node.replayhold import (
    MAX_PEER_HELD,
    MAX_PEER_HELD_PER_SENDER,
    PEER_HOLD_SECONDS,
    ReplayHold,
)
from sdex.node.startchain import NodeStartChain
from sdex.order import Domain
from sdex.settlement import Settler
from sdex.settlement.reconcile import mark_unread, reconcile
from sdex.store import ChainIdentity, Store, StoreError
from sdex.watch import Watcher

CANCELS_WAIT = 3.0
"""Seconds a (re)started node waits, before it takes wallets' orders, for its bootstrap peer's
soft-cancelled orders (``flows.cancelled``; peers are served meanwhile): one that was down
during a cancel, or joins after it, matched the order before it heard (attack38)."""

SAVED_HEAD_WAIT = 5.0
"""Seconds a stop waits for the store's head read back (``Node._saved_head``): a stalled
writer leaves the watcher's own."""
PRUNE_REST = 60.0
"""Seconds between two sweeps of the store for dead order rows (``Node._prune``)."""
PRUNE_STEPS = 8
"""Steps of that sweep a turn of the evict loop (about a second) takes at most, while
they find rows to delete: 8 windows of ``sdex.storeprune.PRUNE_WINDOW`` rows, 4,096 rows a
second, above the order rate a node takes for long."""

log = logging.getLogger("sdex.node")
__all__ = ["OPEN_STATUSES", "Node", "Record", "SubmitResult"]


class Node(NodeStartChain):
    rejudging = False
    """A start's re-judging of every stored order after a reset runs (``_watch``): the
    closed orders not walked yet may still say what the old chain had (``/health``)."""
    _prune_after = 0
    """The ``seq`` the sweep for dead order rows goes on after (0: a new sweep)."""
    _prune_rest = 0.0
    """``time.monotonic()`` before which no sweep starts (one ended)."""

    async def start(self) -> None:
        """``prepare`` then ``load``: the node ready (``started`` set)."""
        await self.prepare()
        await self.load()

    async def prepare(self) -> None:
        """Check the chain (the Exchange, its chain id, the deployment block), open the
        store and build the parts, reading no stored order: quick, so that a wrong chain or
        database fails before the port opens. ``load`` then makes the node ready. If it
        fails, what it opened is closed (``close_clients``) before the error goes on."""
        try:
            await self._prepare()
        except BaseException:
            await self.close_clients()
            raise

    async def _prepare(self) -> None:
        cfg = self.config
        # Every chain call of the running node is async, on the event loop (sdex.chain.arpc):
        # settlement's sends on a client of their own (one connection: the lane sends one at
        # a time, never queued behind intake's reads; small answers only: SEND_MAX_RESPONSE).
        # The thread's sync client only reads at start-up (the contract, the domain, the
        # reconciliation of a previous run's settlements).
        self.settle_chain = ChainThread(cfg.rpc, cfg.exchange, "sdex-settle")
        self.rpc = AsyncRpc(cfg.rpc)
        self.watch_rpc = AsyncRpc(cfg.rpc)
        self.send_rpc = AsyncRpc(cfg.rpc, max_response=SEND_MAX_RESPONSE, connections=1)
        # contract makers' verdicts on few connections of their own: anyone's code, as slow
        # as it makes them; never holding the intake's, the receipts' (reads76)
        self.contract_rpc = AsyncRpc(cfg.rpc, connections=CONTRACT_CONNECTIONS)
        ex = self.settle_chain.exchange
        code = await self.settle_chain.run(ex.rpc.call, "eth_getCode", cfg.exchange, "latest")
        if code == "0x":
            raise ChainError(
                f"no Exchange contract at {cfg.exchange} on {cfg.rpc}: a devnet reset, or "
                "another chain? Deploy it again (sdex devnet) or pass its deployment file"
            )
        self.domain: Domain = await self.settle_chain.run(ex.domain)
        if self.domain.chain_id != cfg.chain_id:
            raise ChainError(
                f"the chain at {cfg.rpc} is chain {self.domain.chain_id}, not the deployment "
                f"file's {cfg.chain_id}: another chain? Pass its deployment file (or its --rpc)"
            )
        deploy_block = await self.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
        if deploy_block is None:
            raise ChainError(f"block {cfg.deploy_block} does not exist on {cfg.rpc}: wrong chain?")
        identity = ChainIdentity(cfg.chain_id, cfg.exchange, await self._deploy_hash(deploy_block))
        self.store = Store(cfg.db, identity, self.domain)
        if self.store.rejudge_due:
            log.warning("database %s: a chain reset: every stored order judged again", cfg.db)
        self.book = OrderBook(cfg.pairs)
        self.registry.attach(self.store, self.book)
        self._recheck.attach(self.store, self._rechecks_read_back)  # (store97)
        self.registry.grace = cfg.closed_grace
        self.registry.max_unfunded = cfg.limits.max_unfunded
        self.registry.max_restricted_unfunded = cfg.limits.max_restricted_unfunded
        self.book.minimums = dict(cfg.limits.min_amounts)  # (no dust trade, no dust rests)
        self.engine = MatchingEngine(self.book)
        self.tokens = frozenset(t for pair in cfg.pairs for t in pair)
        self.mirror = Mirror(ex, self.tokens, depth=cfg.reorg_depth)
        self.mirror.announced.ceiling = cfg.max_base_fee  # (--max-base-fee: fee86)
        self.mirror.announced.read(cfg.deploy_block, base_fee_of(deploy_block), placed=True)
        self.mirror.announced.syncing = True  # (till a read of the latest is in reach: fee88)
        self.batcher = StateBatcher(self.rpc, ex)
        self.contract_sigs = Eip1271Batcher(  # (verdicts in mirror.sigs)
            self.contract_rpc, ex, self.mirror, code_rpc=self.rpc
        )
        # (a maker with a funded open order here has a record: its reads not the pool's, reads78)
        self.contract_sigs.keys.recorded_by = self.registry.trades
        self.intake = self._intake(self.batcher, fee=(cfg.fee_recipient, cfg.fee_bps))
        # A turn's wallet orders (a group) get their verdicts back in one part: in parts the
        # group resumed once a part and answered in parts, so the next turns' groups were
        # smaller (26 orders, not 48): 0.90-0.94x the CPU an order in-process (http70)
        self.intake.ecdsa.chunk = self.intake.ecdsa.max_batch
        # Peers' orders: the same checks, with a batcher of their own, so that a burst of
        # gossip never queues a wallet's order behind its chain reads.
        self.peer_batcher = StateBatcher(self.rpc, ex)
        self.peer_intake = self._intake(self.peer_batcher, fee=None)
        ceiling = ReadCeiling(cfg.chain_read_total)  # (all senders together)
        self.read_budget = ReadBudget(cfg.chain_read_limit, ceiling, "wallets")
        # wallet orders wait (bounded) for a replaying mirror, not read one by one (replay79)
        following = lambda: self.watcher.status in FOLLOWING  # noqa: E731
        self.replay_hold = ReplayHold(self.replayed, following)
        self.peer_replay_hold = ReplayHold(  # (peers' copies, as wallets': replay80)
            self.replayed, following, MAX_PEER_HELD, MAX_PEER_HELD_PER_SENDER, PEER_HOLD_SECONDS
        )
        self.peer_read_budget = ReadBudget(  # (a bucket per peer with a bound of its own)
            cfg.peer_chain_read_limit,
            ceiling,
            "peers",
            max_senders=2 * (cfg.gossip.reads_own_peers + 1),
            shared=STRANGERS,
            fair=cfg.gossip.reads_own_peers + 1,  # (its senders: those peers, the strangers)
        )
        # (its lane's fees only, bounded by the mirror's reads: never the latest's alone)
        self.sender = Sender(self.settle_chain.rpc, cfg.key, cfg.chain_id, reads_fees=False)
        self.settler = Settler(
            self.settle_chain,
            self.sender,
            self.store,
            self._on_settled,
            cfg.max_batch,
            receipts=self.rpc,
            sends=self.send_rpc,
            mirror=self.mirror,
            backlog_batch=cfg.backlog_batch,
            suspect=self._suspect,
            withdrawn=self._withdrawn,
            unpaid=self._unpaid,
            held=self._held,
        )
        self.watcher = Watcher(
            self.watch_rpc,
            self.mirror,
            self.store,
            identity,
            cfg.deploy_block,
            self._on_block,
            wanted=lambda a: a in self.mirror.funds or self.registry.holds_account(a),
            poll_interval=cfg.poll_interval,
            subscribe=cfg.new_heads,
            undoing=self._undoing,
        )
        # (a signed settlement is sent, a timed-out send again, only on the chain it was for)
        self.settler.async_sends.view = self.watcher.chain_view
        self.settler.async_sends.doubt = lambda: self.mirror.doubt.held  # (nothing sent again)
        self.mirror.doubt.changed = self._gate_changed  # (matching held while in doubt)
        self.watcher.unapplied.cleared = self.settler.wake  # (signing held while behind)
        self.settler.presend = self.watcher.before_send  # (a send looks again: revert79)
        self.watcher.lied = self._chain_at_most  # (words read past a lie: bounded, sign79)
        mine = self.watcher.unapplied.own  # (...but not by a block of ours alone)
        self.watcher.unapplied.own = lambda n: mine(n) or self._own_in_flight(n)
        await self.watcher.check_head()
        latest = await self.rpc.call("eth_getBlockByNumber", "latest", False)
        try:  # (an answer that is no block: the chain's error, said in one line)
            header = Header.from_rpc(latest)
            self.watcher.unapplied.saw(header.number)  # (known, not applied: review82b)
            self.latest_timestamp = header.timestamp
            self.saw_block_time(header.number, header.timestamp)
        except ValueError as e:
            raise ChainError(f"the chain's latest block was no block: {e}") from None
        await self._pending_clock()
        key = NodeKey.load_or_create(cfg.node_key_path)
        me = http_url(cfg.host, cfg.port)  # (an IPv6 host in brackets: http://[::1]:8001)
        held_at_most = cfg.limits.max_orders + cfg.limits.max_unfunded  # (open, in all)
        self.gossip = Gossip(self, me, cfg.peers, cfg.gossip, key, held_at_most)
        self.gossip.spawned = self.forwarding.spawned
        log.info("gossip node id %s (key file %s)", key.node_id, cfg.node_key_path)

    def _undoing(self) -> None:
        """The watcher begins to undo blocks (a reorg or a reset): the durable own fills'
        record forgotten (a settler's fills write after it: left alone), and the settler's
        nonce read again before its next signature (``NonceLane.undone``)."""
        self._own_durable.forget()
        self.settler.undone()
        self._applying(True)  # (no recheck part judged on a half-undone mirror: recheck81)

    async def load(self) -> None:
        """Settle what a previous run left pending, put every stored open order back in the
        book as the saved mirror has it, and the blocks since applied (the chain read per
        order only where the mirror cannot judge it; the loop is given back between chunks),
        adopt what the previous run left pooled (``NodeAdoption._adopt``),
        start the background tasks and gossip, then set ``started``.
        Until then the HTTP API answers 503 "starting" (``sdex.node.api.guard``). If it
        fails, the watcher's proof of the chain's head its catch-up began is ended (fee90:
        left running after the start failed, ``close_clients``' and ``stop``'s tasks not it)."""
        try:
            await self._load()
        except BaseException:
            await self.watcher.end_proof()
            raise

    async def _load(self) -> None:
        cfg = self.config
        pooled = await reconcile(self.settler)
        self._unadopted = bool(pooled)  # (nothing matched till they are adopted: settle88)
        await self._nonce_floor()
        assert self.gossip is not None  # (made by prepare)
        # (sybil78's standings first: the catch-up credits their trades, peers93)
        below = self.watcher.saved if self.watcher.resumed else math.inf
        await readbudget.restore_standings(self.gossip, self.store, below)
        await self._reload_orders()
        if self.watcher.resumed:  # (what changed while down, before the orders are served)
            await self.watcher.catch_up()
        held = self._start_holds(pooled)  # (doubt83: the node starts, matching and settling held)
        if not held:
            await self._adopt(pooled)  # (before the book is matched again: their orders held)
            await self._recheck_stored()  # (a kill's: the caught-up mirror's word, held ones not)
            self.cancels_kept()  # (a peer's a held start kept, stopped before it ended: held86)
        self.watcher.unapplied.from_now()  # (blocks the start knew: held from here, review82b)
        self._tasks = [
            asyncio.create_task(self._watch(), name="watcher"),
            asyncio.create_task(self._uncross_loop(), name="uncross"),
            asyncio.create_task(self._evict_loop(), name="evict"),
            asyncio.create_task(self._read_cancelled(), name="cancelled-filled"),
        ]
        if held:  # (once the orders are read from our chain: ``_judge_held``)
            judging = self._judge_held(pooled, self._settling)
            self._tasks.append(asyncio.create_task(judging, name="held start"))
        else:
            self._settling()
        self._uncross()
        keep = readbudget.keep_standings(self.gossip, self.store, lambda: self.watcher.saved)
        self._tasks.append(asyncio.create_task(keep))  # (trades to the saved head: review93a)
        self.serving_peers.set()  # (a seed dials our URL back while we wait below)
        await self.gossip.start()
        await self._cancels_loaded(CANCELS_WAIT)
        self.started.set()
        log.info(
            "node ready: %d open orders loaded, %d of them read from the chain (%s)",
            self.open_orders,
            self.reloaded_from_chain,
            cfg.db,
        )

    def _settling(self) -> None:
        """The settler's run begun (what the start adopted with it), and the marking of the
        rows a start in a doubt gave up unread, once the chain is proven ours."""
        self._tasks.insert(0, asyncio.create_task(self.settler.run(), name="settler"))
        if self._unmarked:  # (given up unread in a doubt: marked once the chain is proven)
            doubted, said = self.settler.async_sends.doubted, self.settler.said
            wake = self.mirror.doubt.wake  # (settlement reaches no doubt: kept77)
            marking = mark_unread(self.settler, self._unmarked, doubted, said, wake)
            self._tasks.append(asyncio.create_task(marking, name="unread rows"))

    async def _watch(self) -> None:
        """The watcher's task: a reset's re-judging of every stored order first, if one is
        due (found at open, or one a kill interrupted: ``rejudge_due``), then its polls. The
        node serves meanwhile (``/health``: ``rejudging``, 503), as while a live reset's walk
        holds the watcher (``_apply_block``): the walk is a page of closed orders at a time,
        the loop running between pages. reset74: done before the node was ready, it held the
        start about 1 ms a closed order (10 s per 10,000), without bound."""
        if self.store.rejudge_due:
            self.rejudging = True
            try:
                await self._rejudge_all()
            except Exception as e:  # (the store's or the chain's: due again at the next start,
                log.warning("the re-judging after a reset failed (due again): %s", e)
            finally:  # a block's, a live reset's re-walk, or a restart's, whichever comes)
                self.rejudging = False
        await self.watcher.run()

    async def _rejudge_all(self) -> None:
        """The start's walk of a reset (``rejudge_due``), its marker cleared once every row
        it wrote is committed, kept if one failed (the next start walks again, the block's
        next write tries the row again: ``track_writes``; review73: cleared behind a refused
        row, that order kept the old chain's word for good)."""
        await self.registry.track_writes()
        try:
            await self._rejudge_stored(None, {})  # (the open ones: judged above)
        finally:
            rows = self.registry.tracked_writes()
        try:
            if rows is not None:
                await rows
        except StoreError as e:
            log.warning("the re-judging after a reset not stored (due again): %s", e)
            return
        await self.store.rejudged()

    async def _cancels_loaded(self, bound: float) -> None:
        """Until the bootstrap took its peer's soft-cancelled orders, at most ``bound`` s
        (a seed that hangs: the node serves, as before, and anti-entropy tells it later)."""
        assert self.gossip is not None
        core, until = self.gossip.core, time.monotonic() + bound
        while not core.cancels_loaded and time.monotonic() < until:
            await asyncio.sleep(0.01)
        if not core.cancels_loaded:
            log.warning("no peer's soft cancels within %g s: serving without them", bound)

    async def close_clients(self) -> None:
        """Close what ``prepare`` opened (the chain clients, the settlement thread, the
        store), after it failed part way; called again, it closes nothing more. leftovers17:
        the store was left open (its writer thread, its connections) by a start that failed
        after opening it (a bad node key file, a failed chain read)."""
        if (chain := getattr(self, "settle_chain", None)) is not None:
            chain.close()
        clients = ("rpc", "watch_rpc", "send_rpc", "contract_rpc")
        for rpc in (getattr(self, name, None) for name in clients):
            if rpc is not None:
                await rpc.close()
        if (store := getattr(self, "store", None)) is not None:
            store.close()

    async def stop(self) -> None:
        self._stopping = True  # (a cancelled task's ``finally`` starts no drain: doubt100)
        # the wallet groups under way first (http70: they ran on after the stop, into the
        # closed clients and store): their unanswered orders are cancelled, none accepted
        await self.wallet_group.stop()
        if self.gossip is not None:
            await self.gossip.stop()
        drain = [t for t in (self._draining, self._idle_read) if t is not None]
        await cancel_all([*self._tasks, *self._late_writes, *drain])
        if self.gossip is not None and self.started.is_set():
            await readbudget.save_standings(self.gossip, self.store, await self._saved_head())
        self._tasks = []
        self.settle_chain.close()
        await self.rpc.close()
        await self.watch_rpc.close()
        await self.send_rpc.close()
        await self.contract_rpc.close()
        self.store.close()

    async def _saved_head(self) -> float:
        """The head the store holds at the stop, read back after the tasks' cancel (within
        ``SAVED_HEAD_WAIT``; else ``Watcher.saved``): the watcher's head save cancelled at its
        await may have committed all the same, ``Watcher.saved`` below it. The standings kept
        hold the trades at or below the head given (review93a): given ``Watcher.saved``, a
        trade of such a block was left out while the restart's catch-up began past it, its
        credit lost (``test_review92_restored_credit_reorg`` failed so once under load)."""
        saved = float(self.watcher.saved)
        try:
            async with asyncio.timeout(SAVED_HEAD_WAIT):
                head = await self.store.checkpoint_async()
        except (StoreError, ValueError, TimeoutError) as e:
            log.warning("the saved head not read back at the stop (%s)", repr(e))
            return saved
        return saved if head is None else max(saved, float(head[0]))

    def _intake(self, batcher: StateBatcher, fee: tuple[str, int] | None) -> Intake:
        return Intake(
            self.domain,
            batcher,
            known=self.registry.held,  # in memory, or closed and evicted: stored
            open_count=self.registry.open_count,
            now=self.chain_time,  # (refused once expired, not within landing: landing49)
            limits=self.config.limits,
            tokens=self.tokens,
            fee=fee,
            mirror=self.mirror,
            mirror_ready=self.mirror_ready,
            contract_sigs=self.contract_sigs,
            chain_status=lambda: self.watcher.status,
            chain_down=lambda: self.watcher.unreachable,
            chain_tip=lambda: self.watcher.chain_head,
            account_open=self.registry.account_open,
            refresh=self.registry.sync,
            restricted_count=self.registry.restricted_count,
            restricted_to=self.registry.restricted_to,
        )

    async def _evict_loop(self) -> None:
        """Closed orders leave memory once stored (``OrderRegistry.evict``); the rows the
        store refused are written again (``store_refused``). The store's refusals (a lock
        held past its busy timeout) are warnings: each step is tried again next time."""
        every = min(1.0, max(0.05, self.registry.grace / 4))
        while True:
            await asyncio.sleep(every)
            try:
                if n := self.registry.store_refused():  # (chaos69: rows the store refused)
                    log.warning("%d order rows the store refused: written again", n)
                while await self.registry.evict() >= EVICT_BATCH:
                    pass  # a backlog (a burst of closes): one batch after another
            except StoreError as e:  # (the store's refusal, a lock say: not a defect here)
                log.warning("evicting closed orders failed: %s; again in %g s", e, every)
            except Exception:
                log.exception("evicting closed orders failed")
            try:
                await self._prune()
            except StoreError as e:
                log.warning("deleting dead order rows failed: %s; again in %g s", e, every)
            except Exception:
                log.exception("deleting dead order rows failed")

    async def _prune(self) -> None:
        """Steps of the sweep deleting dead order rows (``Store.prune_step``): up to
        ``PRUNE_STEPS`` while they find some, each a writer job of its own (~6 ms, at most
        ~27 ms with every row of its window deleted: other writes go between them); a sweep
        that reached the last row rests ``PRUNE_REST`` seconds before the next starts.
        Expired by the chain's clock (``chain_time``), not by ``now``'s, which runs ahead by
        the settlements' landing time (review49: a soft cancel the chain still honoured was
        deleted, and ``/p2p/cancelled`` no longer served it), and at most the time of the
        last block the node has applied and saved (left53: restarted after a downtime
        longer than the retention, the node swept by the chain's clock before its watcher
        had applied the blocks since: an order filled on chain while the node was down lost
        its row, its fill stored next, 404 beside it; a fill lands in a block stamped at
        most its order's expiry, so one expired before the applied head's time is stored)."""
        keep = self.config.expired_retention
        for _ in range(PRUNE_STEPS):
            if keep is None or time.monotonic() < self._prune_rest:
                return
            applied = min(self.chain_time(), self.watcher.latest_timestamp)
            gone, self._prune_after = await self.store.prune_step(
                self._prune_after, applied - math.ceil(keep)
            )
            if self._prune_after == 0:
                self._prune_rest = time.monotonic() + PRUNE_REST
            held = self.registry.records
            evicted = sum(1 for h in gone if bytes.fromhex(h[2:]) not in held)
            self._recheck.unseen(bytes.fromhex(h[2:]) for h in gone)  # (a walk drops them)
            self.registry.stored_only = max(0, self.registry.stored_only - evicted)
            if not gone:
                return

    async def _uncross_loop(self) -> None:
        """Crossings that appear through gossip wait out CROSS_GRACE; look for them often (and
        for orders expired while no block came)."""
        while True:
            await asyncio.sleep(CROSS_GRACE / 4)
            try:
                self.expire_idle()
                self.recheck_idle()  # (a failed recheck read, no block to try it again)
                self._uncross()
            except Exception:
                log.exception("uncross failed")
