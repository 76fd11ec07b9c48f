"""The node: the only place that wires intake, store, book, engine, settler and watcher.

Every order, from a wallet or a peer, takes ``Node.submit``: intake (schema, rules,
signature, chain state) → stored (committed before any 2xx) → matched → rested or dropped.
Matches go to the settler; its results and the watcher's block changes come back here and
are applied to the book, the store and the event stream in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from sdex.book import Entry, OrderBook, RemovalReason, Side, UnknownOrder
from sdex.book.errors import BookError
from sdex.chain import FillEvent, Log, OrderState, Sender
from sdex.chain.aio import ChainThread
from sdex.chain.arpc import AsyncRpc
from sdex.errors import OrderParseError, SignatureError
from sdex.gossip import Gossip
from sdex.gossip.identity import NodeKey
from sdex.ingest import Accepted, Intake, Known, Rejection, StateBatcher, judge
from sdex.ingest.rejections import RejectionCode
from sdex.matching import MatchingEngine
from sdex.matching.match import Match, MatchResult, Outcome, TimeInForce
from sdex.mirror import Mirror
from sdex.node.config import NodeConfig
from sdex.node.events import EventHub
from sdex.order import Domain, SignedOrder, parse_hex_bytes, recover_signer
from sdex.settlement import Outcome as SettleOutcome
from sdex.settlement import SettledMatch, Settler, diagnose
from sdex.store import ChainIdentity, Store, StoredFill
from sdex.watch import BlockChanges, Watcher

log = logging.getLogger("sdex.node")

OPEN_STATUSES = ("open", "partially_filled", "unfunded")
CROSS_GRACE = 0.5
"""Seconds a peer's order waits before this node settles a crossing with it (see may_match)."""
MIRROR_MAX_LAG = 2
"""Blocks the mirror may trail the chain by and still answer intake without a chain read."""
MAX_SETTLE_FAILURES = 3
"""Failed settlements an order may be part of with no guilty party found, before it goes."""


@dataclass
class Record:
    """What the node remembers of an accepted order, also after it left the book."""

    signed: SignedOrder
    seq: int
    source: str
    status: str = "open"
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


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.events = EventHub()
        self.records: dict[bytes, Record] = {}
        self.maker_open: dict[str, int] = {}
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

    # ---- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.config
        # Settlement keeps its own thread and session (signing and a sequential nonce lane);
        # every other chain read is async, on the event loop (sdex.chain.arpc).
        self.settle_chain = ChainThread(cfg.rpc, cfg.exchange, "sdex-settle")
        self.rpc = AsyncRpc(cfg.rpc)
        self.watch_rpc = AsyncRpc(cfg.rpc)
        ex = self.settle_chain.exchange
        self.domain: Domain = await self.settle_chain.run(ex.domain)
        if self.domain.chain_id != cfg.chain_id:
            raise RuntimeError(
                f"RPC chain id {self.domain.chain_id} != deployment's {cfg.chain_id}"
            )
        deploy_block = await self.rpc.call("eth_getBlockByNumber", hex(cfg.deploy_block), False)
        if deploy_block is None:
            raise RuntimeError(
                f"block {cfg.deploy_block} does not exist on {cfg.rpc}: wrong chain?"
            )
        identity = ChainIdentity(cfg.chain_id, cfg.exchange, deploy_block["hash"])
        self.store = Store(cfg.db, identity, self.domain)
        if self.store.rebuilt:
            log.warning("database %s belonged to another chain: rebuilt", cfg.db)
        self.book = OrderBook(cfg.pairs)
        self.engine = MatchingEngine(self.book)
        self.tokens = frozenset(t for pair in cfg.pairs for t in pair)
        self.mirror = Mirror(ex, self.tokens, depth=cfg.reorg_depth)
        self.batcher = StateBatcher(self.rpc, ex)
        self.intake = self._intake(self.batcher, fee=(cfg.fee_recipient, cfg.fee_bps))
        # Peers' orders: the same checks, with a batcher of their own, so that a burst of
        # gossip never queues a wallet's order behind its chain reads.
        self.peer_batcher = StateBatcher(self.rpc, ex)
        self.peer_intake = self._intake(self.peer_batcher, fee=None)
        self.sender = Sender(self.settle_chain.rpc, cfg.key, cfg.chain_id)
        self.settler = Settler(
            self.settle_chain, self.sender, self.store, self._on_settled, cfg.max_batch
        )
        self.watcher = Watcher(
            self.watch_rpc,
            self.mirror,
            self.store,
            identity,
            cfg.deploy_block,
            self._on_block,
            wanted=lambda a: a in self.mirror.funds or a in self._by_account,
            poll_interval=cfg.poll_interval,
            subscribe=cfg.new_heads,
        )
        await self.watcher.check_head()
        latest = await self.rpc.call("eth_getBlockByNumber", "latest", False)
        self.latest_timestamp = int(latest["timestamp"], 16)
        await self._reconcile_settlements()
        await self._reload_orders()
        self._tasks = [
            asyncio.create_task(self.settler.run(), name="settler"),
            asyncio.create_task(self.watcher.run(), name="watcher"),
            asyncio.create_task(self._uncross_loop(), name="uncross"),
        ]
        self._uncross()
        key = NodeKey.load_or_create(cfg.node_key_path)
        me = f"http://{cfg.host}:{cfg.port}"
        self.gossip = Gossip(self, me, cfg.peers, cfg.gossip, key, cfg.limits.max_orders)
        log.info("gossip node id %s (key file %s)", key.node_id, cfg.node_key_path)
        await self.gossip.start()
        self.started.set()

    async def stop(self) -> None:
        if self.gossip is not None:
            await self.gossip.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []
        self.settle_chain.close()
        await self.rpc.close()
        await self.watch_rpc.close()
        self.store.close()

    def mirror_ready(self) -> bool:
        """The mirror answers intake only while it follows the chain closely."""
        w = self.watcher
        return w.status == "ok" and w.caught_up.is_set() and w.lag <= MIRROR_MAX_LAG

    def _intake(self, batcher: StateBatcher, fee: tuple[str, int] | None) -> Intake:
        return Intake(
            self.domain,
            batcher,
            known=lambda h: h in self.records,
            open_count=self._open_count,
            now=self.now,
            limits=self.config.limits,
            tokens=self.tokens,
            fee=fee,
            mirror=self.mirror,
            mirror_ready=self.mirror_ready,
        )

    def now(self) -> int:
        """The time the chain will judge expiry by: the latest block's, or the wall clock's."""
        return max(
            self.latest_timestamp,
            self.watcher.latest_timestamp if hasattr(self, "watcher") else 0,
            int(time.time()),
        )

    # ---- intake -----------------------------------------------------------------------------

    def _open_count(self, maker: str | None) -> int:
        if maker is None:
            return sum(self.maker_open.values())
        return self.maker_open.get(maker, 0)

    async def submit(
        self, obj: object, source: str = "api", tif: TimeInForce = TimeInForce.GTC
    ) -> SubmitResult:
        """The one intake path (wallets and peers): validate, store, match, rest."""
        result = await self.intake.submit(obj, check_fee=source == "api")
        if isinstance(result, Rejection):
            return SubmitResult(400, result.to_json())
        if isinstance(result, Known):
            return SubmitResult(
                200, self.record_json(result.hash) or {"orderHash": "0x" + result.hash.hex()}
            )
        if result.signed.hash in self.records:  # accepted twice concurrently: the first wins
            return SubmitResult(200, self.record_json(result.signed.hash) or {})
        if (over := self.intake.over_limit(result.signed.order)) is not None:
            return SubmitResult(400, over.to_json())  # limits, re-checked after the chain read
        return self._accept(result, source, tif)

    async def submit_from_peer(self, obj: object, peer: str) -> str:
        """A peer's order, through the same intake as a wallet's (no fee check: the peer's
        node held it to its own fee). ``accepted``, ``known``, ``rejected`` or ``forged``
        (a rejection that proves bad faith: the peer pays for it)."""
        if self._known_copy(obj):  # most copies a peer sends are known: skip parse and hash
            return "known"
        result = await self.peer_intake.submit(obj, check_fee=False)
        if isinstance(result, Rejection):
            return "forged" if result.code.bad_faith else "rejected"
        if isinstance(result, Known) or result.signed.hash in self.records:
            return "known"
        if self.intake.over_limit(result.signed.order) is not None:  # many checked at once
            return "rejected"
        self._accept(result, "peer:" + peer, TimeInForce.GTC, match=False)
        return "accepted"

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

    def _known_copy(self, obj: object) -> bool:
        """Is ``obj`` exactly the JSON of an order held here? (by its 65-byte signature,
        which only that order's maker could make; the fields are compared too)"""
        if not isinstance(obj, dict):
            return False
        sig = obj.get("signature")
        rec = self._by_signature.get(sig) if isinstance(sig, str) else None
        return rec is not None and rec.json == obj

    def _accept(
        self, accepted: Accepted, source: str, tif: TimeInForce, match: bool = True
    ) -> SubmitResult:
        """Store (committed before any 2xx), book and, for a wallet's order, match it.

        A peer's order is booked without matching: crossings it makes with this node's own
        orders are settled by one node only, by the rule in ``may_match``."""
        signed, state = accepted.signed, accepted.state
        o = signed.order
        if match and (own := self._own_crossing(signed)) is not None:
            # Refused before it is stored or gossiped, so every node agrees it never existed.
            reason = f"it would trade with the same maker's resting order 0x{own.hex()}"
            log.debug("order %s refused: self-trade with 0x%s", signed.hash_hex, own.hex())
            return SubmitResult(400, Rejection.of(RejectionCode.SELF_TRADE, reason).to_json())
        self._seq += 1
        rec = Record(signed, self._seq, source, status="new", filled=state.filled, tif=tif)
        self.store.add_order(signed, rec.seq, "open", source, tif.value)  # before the 2xx
        self._remember(rec)
        self._set_status(rec, "open")
        self._set_funds(o.maker, o.maker_token, min(state.maker_balance, state.maker_allowance))
        log.debug("order %s accepted from %s (%s)", signed.hash_hex, source, tif.value)
        mr: MatchResult | None = None
        try:
            if match:
                mr = self.engine.submit(signed, now=self.now(), tif=tif, filled=state.filled)
            else:
                self.book.add(signed, filled=state.filled)
                rec.announced = True  # it came by gossip: it rests, and is passed on below
                if self.gossip is not None:
                    self.gossip.announce(rec.json, exclude=source.removeprefix("peer:"))
        except BookError as e:  # e.g. nothing left to fill: the chain moved since the read
            self._close_record(rec, "removed", str(e))
            return SubmitResult(201, self._submit_body(rec, None))
        if mr is not None:
            self._after_match(mr)
        else:
            self._announce_if_resting(rec)
        body = self._submit_body(rec, mr)
        self.events.publish({"type": "order", "event": "added", **self._record(rec)})
        return SubmitResult(201, body, accepted=signed)

    def _own_crossing(self, signed: SignedOrder) -> bytes | None:
        """The hash of a resting order of the same maker that ``signed`` would trade with
        (its price crosses and it has something fillable), or None."""
        o = signed.order
        try:
            pair, side = self.book.route(o)
        except BookError:
            return None
        other = Side.ASK if side is Side.BID else Side.BID
        for st in pair.orders(other):
            r = st.order.order
            # incoming gives o.maker_amount for o.taker_amount; resting gives r.maker_amount
            # for r.taker_amount: they cross iff o.taker/o.maker <= r.maker/r.taker
            if o.taker_amount * r.taker_amount > o.maker_amount * r.maker_amount:
                return None  # price-ordered: no later one crosses either
            if r.maker == o.maker and st.fillable > 0 and st.closed is None:
                return st.hash
        return None

    def _announce_if_resting(self, rec: Record) -> None:
        """Gossip an order once it rests here: a GTC order the book keeps. IOC/FOK orders,
        and orders matched in full at arrival, never leave this node."""
        if rec.announced or rec.tif is not TimeInForce.GTC or rec.status not in OPEN_STATUSES:
            return
        st = self.book.get(rec.signed.hash)
        if st is None or st.closed is not None or not st.resting or st.remaining == 0:
            return  # (remaining 0: all of it is in matches being settled)
        rec.announced = True
        if self.gossip is not None:
            exclude = rec.source.removeprefix("peer:") if rec.source.startswith("peer:") else None
            self.gossip.announce(rec.json, exclude=exclude)

    def may_match(self, resting: Entry, incoming: Entry) -> bool:
        """Whether this node may settle ``incoming`` (taker) against ``resting`` when it
        re-matches its book (not at a wallet order's arrival, which matches everything).

        Only this node's own orders (from its wallets) are matched as incoming; between two
        of its own, the older one rests. A crossing of an own order with a peer's order is
        settled by exactly one node: the one whose own order has the greater hash (the other
        node sees the same pair the other way round), and only once the peer's order has been
        here for ``CROSS_GRACE`` seconds, so that its own node's match and settlement notice
        usually arrive first. The chain judges any race that remains."""
        inc = self.records.get(incoming.hash)
        rest = self.records.get(resting.hash)
        if inc is None or rest is None:
            return False
        if incoming.order.maker == resting.order.maker:
            # Two orders of one maker that cross (posted to two nodes at once): every node
            # that holds both removes the one with the smaller hash (the engine removes the
            # resting side), so all reach the same book from the same data.
            return resting.hash < incoming.hash
        if inc.source != "api":
            return False
        if rest.source == "api":
            return resting.seq < incoming.seq
        return resting.hash < incoming.hash and time.time() - rest.created_at >= CROSS_GRACE

    def _submit_body(self, rec: Record, mr: MatchResult | None) -> dict[str, object]:
        meta = self.meta(rec)
        body: dict[str, object] = {
            "orderHash": rec.signed.hash_hex,
            "status": meta["status"],
            "metaData": meta,
        }
        if mr is not None:
            body["outcome"] = mr.outcome.value
            body["matches"] = [_match_json(m) for m in mr.matches]
        return body

    def _after_match(self, mr: MatchResult) -> None:
        """Apply an engine result: removed resting orders, the incoming order's fate, matches."""
        for h, reason in mr.removed:
            self._book_closed(h, reason)
        rec = self.records.get(mr.order.hash)
        if rec is not None:
            if mr.outcome in (Outcome.DROPPED, Outcome.KILLED) and not self._pending(rec):
                self._close_record(rec, "removed", mr.outcome.value)
            elif mr.outcome is Outcome.EXPIRED:
                self._close_record(rec, "expired", "expired")
            else:
                self._announce_if_resting(rec)
        for m in mr.matches:
            log.info(
                "matched %s (resting) with %s: %s at %s",
                m.resting.hash_hex,
                m.incoming.hash_hex,
                m.amounts.left_filled,
                m.price,
            )
        self._dirty.add(mr.order.hash)
        for m in mr.matches:
            self._dirty.add(m.resting.hash)
            self._dirty.add(m.incoming.hash)
        self.settler.submit(mr.matches)

    def _pending(self, rec: Record) -> int:
        st = self.book.get(rec.signed.hash)
        return st.pending if st is not None else 0

    # ---- records and their JSON --------------------------------------------------------------

    def meta(self, rec: Record) -> dict[str, object]:
        st = self.book.get(rec.signed.hash)
        o = rec.signed.order
        if st is not None and st.closed is None:
            status, filled, fillable, pending = st.status, st.filled, st.fillable, st.pending
        else:
            status, filled, fillable = rec.status, rec.filled, 0
            pending = st.pending if st is not None else 0
        return {
            "orderHash": rec.signed.hash_hex,
            "status": status,
            "filledMakerAmount": str(filled),
            "pendingMakerAmount": str(pending),
            "remainingFillableMakerAmount": str(fillable),
            "remainingMakerAmount": str(o.maker_amount - filled),
            "createdAt": rec.created_at,
            "source": rec.source,
            "reason": rec.reason,
        }

    def record_json(self, order_hash: bytes) -> dict[str, object] | None:
        rec = self.records.get(order_hash)
        return None if rec is None else self._record(rec)

    def _record(self, rec: Record) -> dict[str, object]:
        return {"order": rec.signed.to_json(), "metaData": self.meta(rec)}

    def _set_status(self, rec: Record, status: str) -> None:
        """Change a record's status, keeping the per-maker open-order counts (limits) true."""
        was_open = rec.status in OPEN_STATUSES
        is_open = status in OPEN_STATUSES
        if was_open != is_open:
            maker = rec.signed.order.maker
            n = self.maker_open.get(maker, 0) + (1 if is_open else -1)
            if n > 0:
                self.maker_open[maker] = n
            else:
                self.maker_open.pop(maker, None)
        rec.status = status

    def _close_record(self, rec: Record, status: str, reason: str) -> None:
        self._set_status(rec, status)
        rec.reason = reason
        st = self.book.get(rec.signed.hash)
        if st is not None:
            rec.filled = st.filled
        self.store.update_orders([(rec.signed.hash_hex, status, rec.filled, reason)])
        self.events.publish({"type": "order", "event": status, **self._record(rec)})

    def _book_closed(self, order_hash: bytes, reason: RemovalReason) -> None:
        rec = self.records.get(order_hash)
        if rec is None:
            return
        st = self.book.get(order_hash)
        filled = st.filled if st is not None else rec.filled
        done = filled == rec.signed.order.maker_amount or reason is RemovalReason.DUST
        status = "filled" if done else reason.value  # dust: nothing tradeable is left
        if reason is RemovalReason.SELF_TRADE or reason is RemovalReason.UNMATCHED:
            status = "removed"
        rec.filled = filled
        self._close_record(rec, status, reason.value)

    # ---- settlement results ------------------------------------------------------------------

    async def _on_settled(self, results: list[SettledMatch]) -> None:
        failed: list[Match] = []
        fills: list[StoredFill] = []
        for r in results:
            m = r.match
            if r.outcome is SettleOutcome.SETTLED:
                self._confirm(m, r)
                fills.extend(_stored_fills(r.fills, ours=True))
                log.info(
                    "settled %s with %s in %s",
                    m.resting.hash_hex,
                    m.incoming.hash_hex,
                    r.fills[0].tx_hash if r.fills else "?",
                )
            else:
                log.info(
                    "settlement of %s vs %s failed: %s",
                    m.resting.hash_hex,
                    m.incoming.hash_hex,
                    r.reason,
                )
                self._release(m)
                failed.append(m)
        new = self.store.add_fills(fills)
        for f in new:  # (the watcher may have stored and published some first)
            self.events.publish({"type": "fill", **f.to_json()})
        if self.gossip is not None:
            for tx in dict.fromkeys(f.tx_hash for f in fills):
                self.gossip.notify("settlements", {"txHash": tx})
        if failed:
            await self._diagnose(failed)
        self._persist_open()
        self._uncross()

    def _confirm(self, m: Match, r: SettledMatch) -> None:
        self._dirty.update((m.resting.hash, m.incoming.hash))
        try:
            self.engine.confirm(m, r.actual)
        except BookError:
            log.exception("confirming a settled match failed")
        for so in (m.resting, m.incoming):
            rec = self.records.get(so.hash)
            st = self.book.get(so.hash)
            if rec is None:
                continue
            if st is None:  # fully filled and forgotten by the book
                rec.filled = rec.signed.order.maker_amount
                if rec.status in OPEN_STATUSES:
                    self._close_record(rec, "filled", "filled")
            else:
                rec.filled = st.filled
                if st.closed is not None and st.pending == 0 and rec.status in OPEN_STATUSES:
                    self._book_closed(so.hash, st.closed)

    def _release(self, m: Match) -> None:
        self._dirty.update((m.resting.hash, m.incoming.hash))
        try:
            self.engine.release(m)
        except (BookError, UnknownOrder):
            log.exception("releasing a failed match")
        for so in (m.resting, m.incoming):  # a GTC order matched in full may rest now
            rec = self.records.get(so.hash)
            if rec is not None:
                self._announce_if_resting(rec)

    async def _diagnose(self, failed: list[Match]) -> None:
        """Read both orders of each failed match from the chain; drop or shrink the guilty."""
        orders = [so for m in failed for so in (m.resting, m.incoming)]
        states = await self.settle_chain.run(self.settle_chain.exchange.order_states, orders)
        by_hash: dict[bytes, OrderState] = {s.hash: s for s in states}
        rematch: list[bytes] = []
        for m in failed:
            verdicts = diagnose(m, by_hash[m.resting.hash], by_hash[m.incoming.hash])
            guilty_found = False
            for so, v in zip((m.resting, m.incoming), verdicts, strict=True):
                self._set_funds(so.order.maker, so.order.maker_token, v.spendable)
                if v.remove is not None:
                    self._remove(so.hash, v.remove, "settlement failed: " + v.remove.value)
                elif so.hash in self.book:
                    st = self.book.get(so.hash)
                    if st is not None and v.filled > st.filled and st.pending == 0:
                        self.book.set_filled(so.hash, v.filled)
                        self._dirty.add(so.hash)
                guilty_found |= v.guilty
            for so, v in zip((m.resting, m.incoming), verdicts, strict=True):
                rec = self.records.get(so.hash)
                if rec is None or v.remove is not None:
                    continue
                if not guilty_found:
                    rec.failures += 1
                    if rec.failures >= MAX_SETTLE_FAILURES and so is m.incoming:
                        self._remove(so.hash, RemovalReason.REMOVED, "settlement kept failing")
                        continue
                if not v.guilty:
                    rematch.append(so.hash)
        now = self.now()
        for h in dict.fromkeys(rematch):
            st = self.book.get(h)
            if st is None or st.closed is not None or not st.resting:
                continue
            self._after_match(
                self.engine.rematch(h, now=now, may_match=self.may_match, older_only=False)
            )

    def _remove(self, order_hash: bytes, reason: RemovalReason, why: str) -> None:
        if order_hash not in self.book:
            return
        self.book.remove(order_hash, reason)
        rec = self.records.get(order_hash)
        if rec is not None:
            st = self.book.get(order_hash)
            rec.filled = st.filled if st is not None else rec.filled
            status = "filled" if reason is RemovalReason.FILLED else reason.value
            self._close_record(rec, status if status in _API_STATUSES else "removed", why)

    # ---- chain watcher ------------------------------------------------------------------------

    async def _on_block(self, changes: BlockChanges) -> None:
        """Blocks the watcher applied to the mirror: fills to store and publish, orders and
        funds to re-read from the mirror (no chain call), and after a reorg or a reset the
        reversals: undone fills deleted and announced, orders they had closed reopened."""
        if changes.reset:
            self.latest_timestamp = changes.timestamp
            self.sender.forget_nonce()  # the old chain's nonces mean nothing here
        else:
            self.latest_timestamp = max(self.latest_timestamp, changes.timestamp)
        if changes.reorg_depth:
            self.sender.forget_nonce()  # a settlement in an undone block freed its nonce
        for f in changes.reverted:
            self.events.publish({"type": "fill", "event": "reverted", **f.to_json()})
        stored = self.store.add_fills(
            list(_stored_fills(changes.fills, ours=False, ours_txs=self.settler.ours))
        )
        for f in stored:  # whoever stores a fill first (watcher or settler) publishes it
            self.events.publish({"type": "fill", **f.to_json()})
        affected: set[bytes] = {
            f.order_hash for f in changes.fills if f.tx_hash not in self.settler.ours
        } | changes.cancelled
        rejudge = set(changes.rejudge)
        if changes.reverted or changes.reorg_depth:
            rejudge |= {f.order_hash for f in changes.fills}
            rejudge |= {bytes.fromhex(f.order_hash[2:]) for f in changes.reverted}
        makers = changes.makers_cancelled_up_to
        if makers:
            for rec in self.records.values():
                if rec.signed.order.maker in makers:
                    rejudge.add(rec.signed.hash)
        if changes.reset:
            rejudge |= set(self.records)
        # Funds: the watcher re-read every touched account the book or the mirror holds.
        for account in changes.funds:
            spendable = self.mirror.spendable(account)
            if spendable is not None and account in self._by_account:
                self._set_funds(account[0], account[1], spendable)
        targets = [
            self.records[h].signed
            for h in affected | rejudge
            if h in self.records and (h in self.book or h in rejudge)
        ]
        await self._judge_from_mirror(targets, reopen=rejudge)
        for h, reason in self.book.expire(self.now()):
            self._book_closed(h, reason)
        self._persist_open()
        self._uncross()

    async def _judge_from_mirror(self, orders: list[SignedOrder], reopen: set[bytes]) -> None:
        """Apply the mirror's view of ``orders`` (a chain read only for accounts it does not
        hold yet, all in one call); orders in ``reopen`` may come back to the book."""
        states: dict[bytes, OrderState] = {}
        unknown: list[SignedOrder] = []
        for so in orders:
            st = self.mirror.state(so)
            if st is None:
                unknown.append(so)
            else:
                states[so.hash] = st
        if unknown:
            read_at = self.mirror.head.number if self.mirror.head is not None else -1
            for so, st in zip(unknown, await self.batcher.get_many(unknown), strict=True):
                self.mirror.learn(so, st, read_at)
                states[so.hash] = st
        for so in orders:
            state = states[so.hash]
            if so.hash in reopen:
                self._rejudge(so, state)
            else:
                self._apply_chain_state(so, state)

    def _rejudge(self, so: SignedOrder, state: OrderState) -> None:
        """After a reorg or reset: the chain's word on an order, whatever it was before. An
        order closed by the chain (filled, cancelled on chain, expired) that the chain now
        holds fillable returns to the book; the websocket says ``reopened``."""
        rec = self.records.get(so.hash)
        if rec is None:
            return
        st = self.book.get(so.hash)
        if st is not None and st.closed is None:
            before = st.filled
            self._apply_chain_state(so, state)
            if state.filled < before:
                self.events.publish(
                    {"type": "order", "event": "fill_reverted", **self._record(rec)}
                )
            return
        if st is not None and st.pending:  # in flight: the settler's outcome decides
            return
        if rec.status not in ("filled", "cancelled", "expired") or rec.reason in _POLICY_REASONS:
            return  # open, or removed here by policy (soft cancel, self-trade...): stays so
        verdict = judge(so, state)
        o = so.order
        if isinstance(verdict, Accepted) or verdict.code.name == "UNFUNDED":
            self._set_funds(o.maker, o.maker_token, min(state.maker_balance, state.maker_allowance))
            try:
                self.book.add(so, filled=state.filled)
            except BookError as e:
                log.info("order %s cannot return to the book: %s", so.hash_hex, e)
                return
            rec.filled = state.filled
            self._set_status(rec, "open")
            rec.reason = "reopened: the chain no longer has what closed it (reorg or reset)"
            self._dirty.add(so.hash)
            self.store.update_orders([(so.hash_hex, "open", rec.filled, rec.reason)])
            self.events.publish({"type": "order", "event": "reopened", **self._record(rec)})
            return
        status = _CLOSED_BY_CODE.get(verdict.code.name, rec.status)
        if status != rec.status or state.filled != rec.filled:
            rec.filled = state.filled
            self._close_record(rec, status, verdict.code.message)

    def _apply_chain_state(self, so: SignedOrder, state: OrderState) -> None:
        o = so.order
        self._set_funds(o.maker, o.maker_token, min(state.maker_balance, state.maker_allowance))
        st = self.book.get(so.hash)
        if st is None or st.pending:  # in flight: looked at again once the settler is done
            if st is not None:
                self._recheck.add(so.hash)
            return
        verdict = judge(so, state)
        if isinstance(verdict, Accepted) or verdict.code.name == "UNFUNDED":
            if state.filled != st.filled:
                self.book.set_filled(so.hash, state.filled)
                self._dirty.add(so.hash)
                if so.hash not in self.book or (self.book.get(so.hash) or st).closed is not None:
                    rec = self.records[so.hash]
                    rec.filled = state.filled
                    self._close_record(rec, "filled", "filled elsewhere")
            return
        reason = {
            "FULLY_FILLED": RemovalReason.FILLED,
            "CANCELLED": RemovalReason.CANCELLED,
            "EXPIRED": RemovalReason.EXPIRED,
        }.get(verdict.code.name, RemovalReason.INVALID)
        if reason is RemovalReason.FILLED:
            self.book.set_filled(so.hash, state.filled)
            self._dirty.add(so.hash)
            rec = self.records[so.hash]
            rec.filled = state.filled
            if rec.status in OPEN_STATUSES:
                self._close_record(rec, "filled", "filled on chain")
            return
        self._remove(so.hash, reason, verdict.code.message)

    # ---- helpers ------------------------------------------------------------------------------

    def _uncross(self) -> None:
        for mr in self.engine.uncross(now=self.now(), may_match=self.may_match):
            self._after_match(mr)

    async def _uncross_loop(self) -> None:
        """Crossings that appear through gossip wait out CROSS_GRACE; look for them often."""
        while True:
            await asyncio.sleep(CROSS_GRACE / 4)
            try:
                self._uncross()
            except Exception:
                log.exception("uncross failed")

    def _recheck_settled(self) -> None:
        """Orders a block touched while their own fills were in flight: once none is, take
        the mirror's filled amount if it is ahead (a fill made elsewhere meanwhile, which
        the settlement's receipt does not show). Reorgs, which lower it, are re-judged
        by the watcher's changes instead."""
        for h in list(self._recheck):
            st = self.book.get(h)
            rec = self.records.get(h)
            if st is None or rec is None or st.closed is not None:
                self._recheck.discard(h)
                continue
            if st.pending:
                continue
            self._recheck.discard(h)
            state = self.mirror.state(rec.signed)
            if state is not None and state.filled > st.filled:
                self._apply_chain_state(rec.signed, state)

    def _persist_open(self) -> None:
        """Write filled amounts and statuses of open orders that changed (one transaction)."""
        self._recheck_settled()
        updates = []
        dirty, self._dirty = self._dirty, set()
        for h in dirty:
            rec = self.records.get(h)
            if rec is None or rec.status not in OPEN_STATUSES:
                continue
            st = self.book.get(rec.signed.hash)
            if st is None or st.closed is not None:
                continue
            if st.filled != rec.filled or st.status != rec.status:
                rec.filled = st.filled
                rec.status = st.status if st.status in OPEN_STATUSES else rec.status
                updates.append((rec.signed.hash_hex, rec.status, rec.filled, rec.reason))
        if updates:
            self.store.update_orders(updates)

    async def _reconcile_settlements(self) -> None:
        """Settlements recorded but not known mined (the node died mid-flight): finish them."""
        for s in self.store.pending_settlements():
            rpc = self.settle_chain.rpc
            receipt = await self.settle_chain.run(rpc.call, "eth_getTransactionReceipt", s.tx_hash)
            self.settler.ours.add(s.tx_hash)
            if receipt is None:
                try:  # same raw transaction, same nonce: it can land at most once
                    await self.settle_chain.run(rpc.call, "eth_sendRawTransaction", s.raw_tx)
                    receipt = await self.settle_chain.run(self.sender.wait, s.tx_hash, 10.0)
                except Exception as e:
                    log.warning("pending settlement %s could not be sent again: %s", s.tx_hash, e)
                    self.store.set_settlement_status(s.tx_hash, "dropped")
                    continue
                status = "mined" if receipt.status == 1 else "failed"
            else:
                status = "mined" if int(receipt["status"], 16) == 1 else "failed"
            self.store.set_settlement_status(s.tx_hash, status)
            # its fills are read back from the logs by the watcher (from the checkpoint on)

    async def _reload_orders(self) -> None:
        """Put the stored open orders back in the book, as the chain sees them now."""
        for s in self.store.orders():
            rec = Record(
                s.signed,
                s.seq,
                s.source,
                status="new",
                filled=s.filled,
                reason=s.reason,
                created_at=s.created_at,
                tif=TimeInForce(s.tif) if s.tif in _TIF_VALUES else TimeInForce.GTC,
                cancel_signature=s.cancel_signature,
            )
            self._remember(rec)
            self._set_status(rec, s.status)
            self._seq = max(self._seq, s.seq)
        stored = [r for r in self.records.values() if r.status in OPEN_STATUSES]
        if not stored:
            return
        read_at = self.mirror.head.number if self.mirror.head is not None else -1
        states = await self.batcher.get_many([r.signed for r in stored])
        now = self.now()
        for rec, state in zip(stored, states, strict=True):
            self.mirror.learn(rec.signed, state, read_at)
            verdict = judge(rec.signed, state)
            o = rec.signed.order
            rec.filled = state.filled
            if isinstance(verdict, Rejection) and verdict.code.name != "UNFUNDED":
                status = _CLOSED_BY_CODE.get(verdict.code.name, "removed")
                self._close_record(rec, status, verdict.code.message)
            elif now >= o.expiry:
                self._close_record(rec, "expired", "expired")
            elif rec.tif is not TimeInForce.GTC:  # its match was settled or not: it never rests
                self._close_record(rec, "removed", f"{rec.tif.value}: not resting after restart")
            else:
                self._set_funds(
                    o.maker, o.maker_token, min(state.maker_balance, state.maker_allowance)
                )
                self.book.add(rec.signed, filled=state.filled)
                self._dirty.add(rec.signed.hash)
                self._announce_if_resting(rec)  # (gossip starts later: marks it, sends nothing)
        self._persist_open()

    # ---- soft cancel and views -----------------------------------------------------------------

    def soft_cancel(
        self, order_hash: bytes, signature: bytes, from_peer: str | None = None
    ) -> SubmitResult:
        rec = self.records.get(order_hash)
        if rec is None:
            return SubmitResult(404, {"code": 100, "reason": "order not found"})
        try:
            signer = recover_signer(self.domain.cancel_digest(order_hash), signature)
        except SignatureError as e:
            return SubmitResult(400, _field_error("signature", 1005, str(e)))
        if signer != rec.signed.order.maker:
            return SubmitResult(
                400, _field_error("signature", 1005, "not signed by the order's maker")
            )
        first = rec.cancel_signature is None
        if first:
            rec.cancel_signature = signature
            self.store.set_cancel_signature(rec.signed.hash_hex, signature)
        if rec.status in OPEN_STATUSES:
            if order_hash in self.book:
                self.book.remove(order_hash, RemovalReason.CANCELLED)
            self._close_record(rec, "cancelled", "soft cancel by the maker")
            log.info("order %s soft-cancelled by its maker", rec.signed.hash_hex)
        if first and self.gossip is not None:
            # Peers prune it too, each checking the signature, whatever the status here:
            # an order removed on this node may still rest on others.
            notice = {"orderHash": rec.signed.hash_hex, "signature": "0x" + signature.hex()}
            self.gossip.notify("cancels", notice, exclude=from_peer)
        return SubmitResult(200, {"orderHash": rec.signed.hash_hex, "status": rec.status})

    # ---- what gossip asks of the node ---------------------------------------------------------

    def cancel_notice(self, notice: object, peer: str) -> SubmitResult:
        """A soft cancel a peer passed on: applied only if the maker signed it."""
        try:
            if not isinstance(notice, dict):
                raise SignatureError("a cancel notice is an object")
            order_hash = parse_hex_bytes(notice.get("orderHash"), "orderHash")
            signature = parse_hex_bytes(notice.get("signature"), "signature")
        except (OrderParseError, SignatureError) as e:
            if self.gossip is not None:
                self.gossip.penalize(peer)
            return SubmitResult(400, _field_error("signature", 1005, str(e)))
        result = self.soft_cancel(order_hash, signature, from_peer=peer)
        if result.status == 400 and self.gossip is not None:  # the maker never signed it
            self.gossip.penalize(peer)
        return result

    def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        """For orders soft-cancelled here: the maker's signed cancel, to show a peer."""
        out = []
        for h in hashes:
            rec = self._record_at(h)
            if rec is not None and rec.cancel_signature is not None:
                sig = "0x" + rec.cancel_signature.hex()
                out.append({"orderHash": rec.signed.hash_hex, "signature": sig})
        return out

    def _open_records(self) -> Iterable[Record]:
        return (r for r in self.records.values() if r.status in OPEN_STATUSES)

    def _gossiped_records(self) -> Iterable[Record]:
        """Open orders that rest and were announced: the only ones peers are shown."""
        return (r for r in self.records.values() if r.announced and r.status in OPEN_STATUSES)

    def _record_at(self, hash_hex: str) -> Record | None:
        """The record of a hash a peer named (0x-hex; anything else names nothing)."""
        try:
            return self.records.get(bytes.fromhex(hash_hex.removeprefix("0x")))
        except ValueError:
            return None

    def knows(self, hash_hex: str) -> bool:
        return self._record_at(hash_hex) is not None

    def digest(self) -> list[str]:
        """256 buckets (by the hash's first byte), each the XOR of its open order hashes."""
        acc = [0] * 256
        for rec in self._gossiped_records():
            h = rec.signed.hash
            acc[h[0]] ^= int.from_bytes(h, "big")
        return [f"{x:x}" for x in acc]

    def hashes_in(self, buckets: Iterable[int]) -> list[str]:
        wanted = set(buckets)
        return [r.signed.hash_hex for r in self._gossiped_records() if r.signed.hash[0] in wanted]

    def open_orders_by_hash(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        out = []
        for h in hashes:
            rec = self._record_at(h)
            if rec is not None and rec.announced and rec.status in OPEN_STATUSES:
                out.append(rec.json)
        return out

    def snapshot_page(self, after: int, limit: int) -> tuple[list[dict[str, str]], int]:
        """Open orders with arrival sequence > ``after``, oldest first; and the next cursor."""
        recs = sorted((r for r in self._gossiped_records() if r.seq > after), key=lambda r: r.seq)
        page = recs[:limit]
        return [r.json for r in page], (page[-1].seq if page else after)

    async def settlement_notice(self, tx_hash: str) -> bool:
        """A peer says ``tx_hash`` settled orders: believe the receipt, not the peer.

        Applies the transaction's fills as the watcher would (a block early). False if the
        chain knows no such successful transaction."""
        receipt = await self.rpc.call("eth_getTransactionReceipt", tx_hash)
        if not isinstance(receipt, dict) or int(receipt.get("status", "0x0"), 16) != 1:
            return False
        logs = [Log.from_rpc(x) for x in receipt.get("logs", [])]
        fills = self.mirror.exchange.fills(logs)
        targets = [
            self.records[f.order_hash].signed
            for f in fills
            if f.order_hash in self.records and f.order_hash in self.book
        ]
        if targets:  # a block early: read the chain (the mirror follows blocks in order)
            states = await self.batcher.get_many(targets)
            for so, state in zip(targets, states, strict=True):
                self._apply_chain_state(so, state)
            self._persist_open()
        return True

    def orderbook(self, base: str, quote: str, page: int, per_page: int) -> dict[str, object]:
        pair = self.book.pair(base, quote)
        out: dict[str, object] = {}
        for name, side in (("bids", Side.BID), ("asks", Side.ASK)):
            offered = [st for st in pair.orders(side) if st.fillable > 0 and st.closed is None]
            chunk = offered[(page - 1) * per_page : page * per_page]
            out[name] = {
                "total": len(offered),
                "page": page,
                "perPage": per_page,
                "records": [
                    {"order": st.order.to_json(), "metaData": self.meta(self.records[st.hash])}
                    for st in chunk
                    if st.hash in self.records
                ],
            }
        return out

    def stats(self) -> dict[str, object]:
        return {
            "gossip": self.gossip.stats() if self.gossip is not None else None,
            "orders": len(self.records),
            "openOrders": sum(self.maker_open.values()),
            "settlementsSent": self.settler.sent,
            "matchesSettled": self.settler.settled,
            "matchesFailed": self.settler.failed,
            "block": self.watcher.checkpoint,
            "chainStateCalls": self.batcher.calls + self.peer_batcher.calls,
            "chainMirror": self.chain_health(),
        }

    def chain_health(self) -> dict[str, object]:
        """The watcher's state and what intake cost the chain (the mirror's hit rate)."""
        w = self.watcher
        checked = self.intake.checked + self.peer_intake.checked
        read = self.intake.read + self.peer_intake.read
        calls = self.rpc.total_calls + self.watch_rpc.total_calls
        return {
            "status": w.status,
            "problem": w.problem,
            "head": w.chain_head,
            "lag": w.lag,
            "subscribed": w.subscribed,
            "reorgs": w.reorgs,
            "deepestReorg": w.deepest_reorg,
            "resets": w.resets,
            "ordersChecked": checked,
            "ordersReadFromChain": read,
            "ordersFromMirror": checked - read,
            "intakeChainCalls": self.batcher.calls + self.peer_batcher.calls,
            "chainCalls": calls,
            "chainCallsByMethod": dict(self.rpc.calls + self.watch_rpc.calls),
            "mirror": {
                "orders": len(self.mirror.filled) + len(self.mirror.cancelled),
                "accounts": len(self.mirror.funds),
                "makers": len(self.mirror.min_salt),
            },
        }


_TIF_VALUES = {t.value for t in TimeInForce}
_CLOSED_BY_CODE = {"FULLY_FILLED": "filled", "CANCELLED": "cancelled", "EXPIRED": "expired"}

_POLICY_REASONS = {"soft cancel by the maker", "self_trade", "unmatched", "removed"}
"""Reasons of closes this node decided (not the chain): a reorg does not undo them."""

_API_STATUSES = {
    "open",
    "partially_filled",
    "filled",
    "cancelled",
    "expired",
    "unfunded",
    "removed",
}


def _field_error(field_name: str, code: int, reason: str) -> dict[str, object]:
    return {
        "code": 100,
        "reason": "Validation Failed",
        "validationErrors": [{"field": field_name, "code": code, "reason": reason}],
    }


def _match_json(m: Match) -> dict[str, object]:
    return {
        "restingOrderHash": m.resting.hash_hex,
        "incomingOrderHash": m.incoming.hash_hex,
        "restingMakerAmount": str(m.amounts.left_filled),
        "incomingMakerAmount": str(m.amounts.right_filled),
        "price": f"{m.price.numerator}/{m.price.denominator}",
    }


def _stored_fills(
    fills: Iterable[FillEvent], ours: bool, ours_txs: set[str] | None = None
) -> Iterable[StoredFill]:
    for f in fills:
        yield StoredFill(
            tx_hash=f.tx_hash,
            log_index=f.log_index,
            block_number=f.block_number,
            order_hash="0x" + f.order_hash.hex(),
            maker=f.maker,
            taker=f.taker,
            maker_filled=f.maker_filled,
            taker_filled=f.taker_filled,
            fee_recipient=f.fee_recipient,
            fee=f.fee,
            ours=ours or (ours_txs is not None and f.tx_hash in ours_txs),
        )
