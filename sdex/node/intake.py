"""Intake glue: a wallet's or a peer's order through ``sdex.ingest`` into the store and the
book, matching, the self-trade and cross rules, gossip announcement, and soft cancels."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Container
from typing import TypeVar

from sdex.book import BookOrderState, Entry, RemovalReason
from sdex.book.errors import BookError
from sdex.futures import retrieved
from sdex.ingest import Accepted, IntakeResult, Known, Rejection
from sdex.ingest.holds import Held
from sdex.ingest.rejections import RejectionCode
from sdex.matching.match import MatchResult, Outcome, TimeInForce
from sdex.model import OPEN_STATUSES, OrderStatus, error_body
from sdex.node.commitwait import MIN_COMMIT_WAIT, answer_wait, committed
from sdex.node.forwarding import CallClock, Stamp
from sdex.node.landingwhy import landing_why
from sdex.node.readbudget import throttled_body
from sdex.node.records import CROSS_GRACE, Record, SubmitResult, Taken, stays_open
from sdex.node.selftrade import own_crossing
from sdex.node.softcancel import NodeSoftCancel, cancel_unstored
from sdex.node.walletgroup import Member, fail
from sdex.order import Order, SignedOrder
from sdex.ordertext import order_text
from sdex.store import StoreError

log = logging.getLogger("sdex.node")
T = TypeVar("T")


class NodeIntake(NodeSoftCancel):
    """Orders in: submit, accept, match, rest, announce; soft cancel."""

    async def submit(
        self,
        obj: object,
        source: str = "api",
        tif: TimeInForce = TimeInForce.GTC,
        client: str | None = None,
        fronted: SignedOrder | None = None,
        arrived: float | None = None,
    ) -> SubmitResult:
        """The one intake path (wallets and peers): validate, store, match, rest. ``client``:
        the wallet's address, whose budget of chain reads pays for one (``sdex.node.readbudget``;
        None: no budget). ``fronted``: a wallet's order a front process parsed, hashed and
        found signed by its maker (``sdex.node.fronts``; ``obj`` unread). ``arrived``: when
        its request came (``time.monotonic()``; a held order's verdict is due from then)."""
        taken = await self._through(obj, source, tif, client, fronted, arrived)
        return await self._answered(taken, arrived)

    async def _through(
        self, obj: object, source: str, tif: TimeInForce, client: str | None,
        fronted: SignedOrder | None = None, arrived: float | None = None,
    ) -> Taken:  # fmt: skip
        """``submit``'s order through the intake and, if accepted, into the book: its answer
        and the commit it waits for (``_taken``)."""
        fw = self.forwarding
        # What it costs before it is passed on, timed only while there is a peer to pass it
        # on to (the clocks are system calls, one releases the GIL; a node with no peer
        # passes nothing on), and then one call in ``fw.every`` (``ForwardTiming.begin``).
        label = "wallet" if source == "api" else "peer"
        started = fw.begin(label) if self._pushes() else None
        spend = None if client is None else self.read_budget.wallet(client)
        hand: list[tuple[float, float, float]] = []  # (its signature's hand-over: ``start``)
        handing = None if started is None else lambda: hand.append(fw.start())
        hold = None if client is None else self.replay_hold.hold(client, arrived)
        result = await self.intake.submit(
            obj, source == "api", spend, handing, fronted, hold=hold, arrived=arrived
        )
        return self._taken(result, source, tif, label, started, hand, arrived)

    def _taken(
        self, result: IntakeResult, source: str, tif: TimeInForce, label: str = "wallet",
        started: Stamp | None = None, hand: list[tuple[float, float, float]] | None = None,
        arrived: float | None = None,
    ) -> Taken:  # fmt: skip
        """A wallet's order after the intake, at once: its answer and the commit it waits
        for (None: none), or the hash of an order held here already (``_already_held``).
        ``arrived``: its POST's (``time.monotonic()``), whence its answer is due
        (``commitwait.answer_wait``)."""
        if isinstance(result, Rejection):  # (the chain not read: the node's, not the order's)
            if result.code is RejectionCode.THROTTLED:  # (not read: its client's budget)
                return SubmitResult(429, throttled_body(), headers=self.read_budget.headers()), None
            unavailable = result.code is RejectionCode.CHAIN_UNAVAILABLE
            return SubmitResult(503 if unavailable else 400, result.to_json()), None
        held = result.hash if isinstance(result, Known) else result.signed.hash
        if isinstance(result, Known) or self.registry.held(held):
            # (or accepted meanwhile, by a faster path, while this copy's chain read ran:
            # perhaps closed and evicted since, so ``held``, not ``self.records``)
            return held
        if self.orphan_cancels and self.cancelled_on_arrival(
            result.signed, result.state.filled, source
        ):
            return held  # (cancelled before it came: cancel63)
        if (over := self.intake.admit(result)) is not None:
            return SubmitResult(400, over.to_json()), None  # limits, again after the read
        fw = self.forwarding
        handed = fw.handed
        fw.clocked = started is not None  # (``_accept`` runs through: no other call between)
        try:
            with self.registry.own_writes(result.signed.hash_hex) as own:
                answer = self._accept(result, source, tif)
        finally:
            fw.clocked = True
        if started is not None:
            fw.add(label, started, fw.last(), fw.handed - handed, hand[0] if hand else None)
        # its row and, if it closed at once (killed), its last update (each job may fail
        # alone); not another order's row closed meanwhile (a resting one found expired);
        # committed before the 2xx (group commit: one transaction for many orders)
        stored = answer.stored
        if stored is None:
            return answer, None
        return answer, self._commit_wait(stored, own[-1:], answer_wait(self.store_wait, arrived))

    async def _answered(self, taken: Taken, arrived: float | None = None) -> SubmitResult:
        if isinstance(taken, bytes):
            return await self._already_held(taken, answer_wait(self.store_wait, arrived))
        answer, wait = taken
        if wait is not None:
            try:
                await wait
            except StoreError as e:
                return _not_stored(e, answer.body.get("orderHash"))
        return answer

    async def submit_wallet(
        self, obj: object, tif: TimeInForce = TimeInForce.GTC, client: str | None = None,
        arrived: float | None = None,
    ) -> SubmitResult:  # fmt: skip
        """``submit`` of a wallet's order (``source`` api) with the others posted in this
        loop turn, through the intake together (``sdex.node.walletgroup``): its verdict
        comes on a future of its own, then it waits for its own writes' commit itself, as
        ``submit`` does (woken by the commit, not a turn later by a callback on it).
        ``arrived``: when its POST came (``time.monotonic()``; None: now)."""
        group = self.wallet_group
        since = time.monotonic() if arrived is None else arrived
        taken = group.add(obj, tif, client, since, self._submit_group, self._submit_alone)
        try:
            return await self._answered(await taken, since)
        finally:
            group.posts -= 1

    async def _submit_alone(self, member: Member[Taken]) -> None:
        """A lone order (its turn's only post) through ``submit``'s steps. Its row goes to the
        writer at the turn's end with the turn's other rows (lat77: handed over at once, it
        woke the writer mid-turn, its thread taking the GIL from the turn still running, and
        the peers' rows stored after it in the turn took a hand-over and a commit of their
        own: at 100/s on 8 nodes a wallet's POST and the p99 to every node rose), unless other
        wallet orders are in flight (a busy loop, where a turn is long: wait74)."""
        obj, tif, client, arrived, fut = member
        try:
            taken = await self._through(obj, "api", tif, client, arrived=arrived)
            if self.wallet_group.posts > 1:  # (others in flight: a busy loop, long turns)
                self.store.hand_over()  # (its row's commit begun now, not a turn later)
        except Exception as e:
            fail(fut, e)
        else:
            _give(fut, taken)
        finally:
            fut.cancel()  # (cancelled itself, the node stopping: nobody answers it; else no-op)

    async def _submit_group(self, members: list[Member[Taken]]) -> None:
        """``submit`` of each of ``members``, through ``Intake.submit_each`` together: each
        one's verdict and its commit wait on its own future (its request waits for the
        commit itself: a 2xx once its own writes are committed); one order's failure is that
        order's alone, the intake's midway the unanswered ones'."""
        spends = [None if c is None else self.read_budget.wallet(c) for _, _, c, _, _ in members]
        holds = [None if c is None else self.replay_hold.hold(c, a) for _, _, c, a, _ in members]

        def spend(k: int) -> str | None:
            s = spends[k]
            return "" if s is None else s(k)

        async def hold(k: int) -> Held | None:  # (while the mirror replays: ``replayhold``)
            return None if (h := holds[k]) is None else await h(k)

        left = set(range(len(members)))
        fw = self.forwarding
        clock = CallClock(fw, "wallet", self._pushes())  # (one call: as a peer's chunk)
        objs = [m[0] for m in members]
        arrivals = [m[3] for m in members]
        each = self.intake.submit_each(objs, True, spend, clock.handing(), hold=hold,
                                       arrivals=arrivals)  # fmt: skip
        try:
            async with contextlib.aclosing(each):
                async for k, result in each:
                    left.discard(k)
                    fut, before = members[k][4], fw.handed
                    try:
                        _give(fut, self._taken(result, "api", members[k][1], arrived=members[k][3]))
                    except Exception as e:
                        fail(fut, e)
                    clock.passed(before)
        except Exception as e:
            for k in left:
                fail(members[k][4], e)
        finally:
            for k in left:  # (cancelled, the node stopping: nobody answers them; else no-op)
                members[k][4].cancel()
            clock.end()
            self.store.hand_over()  # (the group's rows: their commit begun now, not a turn later)

    def _commit_wait(
        self, stored: asyncio.Future[None], also: list[asyncio.Future[None]], within: float
    ) -> asyncio.Future[None]:
        """A new order's row committed (``stored``: the store made it for this request
        alone, so it is awaited itself, bounded by ``commit_waits``) and ``also`` (its last
        update if it closed at once: shared, so waited through ``committed``), within
        ``within`` seconds."""
        if also:
            return committed([stored, *also], within)
        self.commit_waits.bound(stored, within)
        return stored

    async def _already_held(self, order_hash: bytes, within: float) -> SubmitResult:
        """A wallet posted an order held here already: 200 once its row is committed (a
        peer's order is stored lazily, and an earlier insert may have failed: stored now),
        within ``within`` seconds in all."""
        rec = self.records.get(order_hash)
        if rec is None:  # closed and evicted (its row committed first), or accepted meanwhile
            return SubmitResult(
                200, self.record_json(order_hash) or {"orderHash": "0x" + order_hash.hex()}
            )
        try:
            began = time.monotonic()
            holds = self.store.holds_order(rec.signed.hash_hex)
            if not await self._committed_within(holds, within):
                log.warning("order %s held but not stored: storing it", rec.signed.hash_hex)
                stored = self.store.add_order_async(
                    rec.signed, rec.seq, rec.status, rec.source, rec.tif.value, rec.json
                )
                if stored is not None:  # (always: a waited insert)
                    left = max(MIN_COMMIT_WAIT, within - (time.monotonic() - began))
                    await committed([stored], left)
                self.store.update_orders([rec.row()])  # its filled amount, reason
        except StoreError as e:
            return _not_stored(e, "0x" + order_hash.hex())
        return SubmitResult(200, self.record_json(order_hash) or {})

    def _accept(
        self, accepted: Accepted, source: str, tif: TimeInForce, match: bool = True
    ) -> SubmitResult:
        """Store (queued here; ``submit`` awaits the commit before any 2xx), book and, for a
        wallet's order, match it.

        A peer's order is booked without matching: crossings it makes with this node's own
        orders are settled by one node only, by the rule in ``may_match``."""
        signed, state = accepted.signed, accepted.state
        o = signed.order
        skip = self.kept_out() if match else None  # (by position: no keyword parsing)
        if match and (own := own_crossing(self.book, o, skip)) is not None:
            # Refused before it is stored or gossiped, so every node agrees it never existed.
            reason = f"it would trade with the same maker's resting order 0x{own.hex()}"
            log.debug("order %s refused: self-trade with 0x%s", signed.hash_hex, own.hex())
            return SubmitResult(400, Rejection.of(RejectionCode.SELF_TRADE, reason).to_json())
        self._seq += 1
        rec = Record(
            signed, self._seq, source, status=OrderStatus.NEW, filled=state.filled, tif=tif
        )
        text: str | dict[str, str] = rec.json  # (nothing else needs it: the writer encodes it)
        if (tif is TimeInForce.GTC and self._pushes()) or len(self.events):  # once, for all
            text = rec.json_text = order_text(rec.json)  # (formatted directly: ~2x cheaper)
        self.registry.admit(rec)  # (before its row is queued: ``admit`` looks in the store)
        stored = self.store.add_order_async(  # a peer's (match=False): nobody waits for it
            signed, rec.seq, OrderStatus.OPEN, source, tif.value, text, waited=match
        )
        self._mirror_funds(o.maker, o.maker_token, min(state.maker_balance, state.maker_allowance))
        if log.isEnabledFor(logging.DEBUG):  # (its arguments cost ~1 us an order)
            log.debug("order %s accepted from %s (%s)", signed.hash_hex, source, tif.value)
        mr: MatchResult | None = None
        try:
            if match:
                now, by = self.times()  # expired by, matched by: landing49
                mr = self.engine.submit(signed, now, tif, state.filled, by, skip)
            else:
                if not self.registry.rests(signed, state.filled):  # dust left: closed
                    self.registry.publish(rec, "added")  # (it arrived, then it leaves)
                    self._book_closed(signed.hash, RemovalReason.DUST, state.filled)
                    return SubmitResult(201, {}, accepted=signed, stored=stored)
                self.registry.announce(rec)  # it came by gossip: it rests, passed on below
                if self.gossip is not None:
                    exclude = source.removeprefix("peer:")
                    self.gossip.announce(rec.json, exclude=exclude, text=rec.json_text)
                    self.forwarding.passed_on()  # (a chunk's clocks: read after its last)
        except BookError as e:  # e.g. nothing left to fill: the chain moved since the read
            self.registry.publish(rec, "added")  # subscribers see it arrive, then leave
            self._close_record(rec, OrderStatus.REMOVED, str(e))
            return SubmitResult(201, self._submit_body(rec, None), stored=stored)
        if mr is None:  # a peer's order: nobody reads an answer, only subscribers an event
            self._announce_if_resting(rec)
            self.registry.publish(rec, "added")
            return SubmitResult(201, {}, accepted=signed, stored=stored)
        meta = self.meta(rec, self._after_match(mr, arrived=rec))  # the answer's and the event's
        body = self._submit_body(rec, mr, meta)
        if rec.status.is_open:  # (closed at arrival: ``_after_match`` published ``added``)
            self.registry.publish(rec, "added", meta=meta)
        text = self._submit_text(body)
        return SubmitResult(201, body, accepted=signed, stored=stored, text=text)

    def _announce_if_resting(self, rec: Record) -> BookOrderState | None:
        """Gossip an order once it rests here: a GTC order the book keeps. IOC/FOK orders,
        and orders matched in full at arrival, never leave this node. The book's state of
        the order, if it was read."""
        if rec.announced or rec.tif is not TimeInForce.GTC or rec.status not in OPEN_STATUSES:
            return None
        st = self.book.get(rec.signed.hash)
        if st is None or st.closed is not None or not st.resting or st.remaining == 0:
            return st  # (remaining 0: all of it is in matches being settled)
        self.registry.announce(rec)  # (not a row of an older version's, its signature over
        g = self.gossip  # the bound: never offered.) No peer yet: nothing to push, nor to
        if g is not None and rec.announced and len(g.peers) > 0:  # time (anti-entropy later)
            source = rec.source
            exclude = source.removeprefix("peer:") if source.startswith("peer:") else None
            g.announce(rec.json, exclude=exclude, text=rec.json_text)
            self.forwarding.handed_over()
        return st

    def _pushes(self) -> bool:
        """Whether a new order is pushed to peers now: gossip runs and knows a peer."""
        return self.gossip is not None and len(self.gossip.peers) > 0

    def kept_out(self) -> Container[bytes] | None:
        """Resting orders a wallet's new order is not matched against (None: none): those
        kept out of re-matching, gone on chain in a block not applied yet (``sdex.node.gone``,
        ``NodeBlame.gone_orders``; loop81: it was, a withdrawn match and a "settlement (not
        sent)" line for each such arrival)."""
        gone = self._gone
        if gone is None:
            return None
        gone.tidy()  # (those whose block was applied since: let go, the walk asks nothing)
        return gone if gone.orders else None

    def may_match(self, resting: Entry, incoming: Entry) -> bool:
        """Whether this node may settle ``incoming`` (taker) against ``resting`` when it
        re-matches its book (not at a wallet order's arrival, which matches everything).

        Only this node's own orders (from its wallets) are matched as incoming; between two
        of its own, the older one rests. A crossing of an own order with a peer's order is
        settled by exactly one node: the one whose own order has the greater hash (the other
        node sees the same pair the other way round), and only once the peer's order has been
        here for ``CROSS_GRACE`` seconds, so that its own node's match and settlement notice
        usually arrive first. The chain judges any race that remains. (Two orders of one
        maker are never matched, nor asked about: the engine skips them, both rest.)"""
        inc = self.records.get(incoming.hash)
        rest = self.records.get(resting.hash)
        if inc is None or rest is None:
            return False
        if inc.source != "api":
            return False
        if rest.source == "api":
            return resting.seq < incoming.seq
        return resting.hash < incoming.hash and time.time() - rest.created_at >= CROSS_GRACE

    def _after_match(self, mr: MatchResult, arrived: Record | None = None) -> BookOrderState | None:
        """Apply an engine result: removed resting orders, the incoming order's fate, matches.
        The book's state of the incoming order if it was read here (it rests: announced),
        as it stands afterwards (queuing the matches for settlement leaves the book alone).
        ``arrived``: the incoming order's record, just accepted and not yet published; if it
        closes here (an IOC/FOK order killed, an expired one) ``added`` is published first."""
        st: BookOrderState | None = None
        rec = self.records.get(mr.order.hash)
        if (
            arrived is not None
            and arrived is rec
            and not stays_open(mr, lambda: self._pending(rec))
        ):
            self.registry.publish(rec, "added")
        for h, reason in mr.removed:
            self._book_closed(h, reason)
        if rec is not None:
            if mr.outcome in (Outcome.DROPPED, Outcome.KILLED) and not self._pending(rec):
                why = mr.outcome.value
                late = "" if mr.matches else self._landing_why(rec.signed.order)
                if late:
                    why += ": " + late  # (left50: the landing time, not "nothing crossed")
                self._close_record(rec, OrderStatus.REMOVED, why)
            elif mr.outcome is Outcome.EXPIRED:
                self._close_record(rec, OrderStatus.EXPIRED, "expired")
            else:
                st = self._announce_if_resting(rec)
        if log.isEnabledFor(logging.DEBUG):  # per match: at INFO it would cost the hot path
            for m in mr.matches:
                log.debug(
                    "matched %s (resting) with %s: %s at %s",
                    m.resting.hash_hex,
                    m.incoming.hash_hex,
                    m.amounts.left_filled,
                    m.price,
                )
        self.registry.matched(mr)
        self.settler.submit(mr.matches)
        return st

    def _landing_why(self, o: Order) -> str:
        return landing_why(self.book, o, *self.times())

    def _uncross(self) -> None:
        now, by = self.times()
        for mr in self.engine.uncross(now=now, may_match=self.may_match, match_by=by):
            self._after_match(mr)

    async def cancel(
        self, order_hash: bytes, signature: bytes, client: str = "unknown",
        arrived: float | None = None,
    ) -> SubmitResult:  # fmt: skip
        """A wallet's soft cancel (from ``client``, its ``client_group``): ``soft_cancel``,
        answered once what it wrote is committed (awaited: the loop serves on while the
        writer commits), by ``commitwait.ANSWER_BY`` from ``arrived`` (its POST's
        ``time.monotonic()``; None: ``store_wait``, ``committed``'s bound): a cancel whose
        body came slowly waited ``store_wait`` more, past the wallet client's 10 s (users83)."""
        result = self.soft_cancel(order_hash, signature, client=client)
        if result.stored is not None:
            within = answer_wait(self.store_wait, arrived)
            try:  # (the commit goes on: shielded; ``_cancel_stored`` still sees it)
                async with asyncio.timeout(within):
                    await asyncio.shield(result.stored)
            except TimeoutError:
                e = StoreError(f"not committed within {within:.3g} s (the store stalls)")
                return cancel_unstored(result, e)
            except StoreError as e:
                return cancel_unstored(result, e)
        return result

    async def _committed_within(self, read: Awaitable[T], within: float | None = None) -> T:
        """A read the store's writer answers after every write queued before it, awaited at
        most ``within`` seconds (``store_wait`` if None; as ``committed``'s), then
        ``StoreError``."""
        within = self.store_wait if within is None else within
        try:  # (not wait_for: on 3.11 it swallows a cancel that lands as the read ends)
            async with asyncio.timeout(within):
                return await read
        except TimeoutError:
            raise StoreError(
                f"not read within {within:.3g} s (the store stalls); ask again later"
            ) from None


def _not_stored(e: StoreError, order_hash: object = None) -> SubmitResult:
    """503: an order's row not committed in time (the store stalls: it commits later) or
    refused. An order the node took is in its book already, or matched (perhaps passed on to
    peers: not to be taken back), so the answer names it, held, for the wallet to look up
    (``orderHash``): "the order was not stored" read as not taken, and a user signed it
    again, two orders resting (left77)."""
    if not isinstance(order_hash, str):
        return SubmitResult(503, error_body(100, f"the order was not stored: {e}"))
    body = error_body(
        100,
        f"the node holds order {order_hash} (taken: it may trade) but has not stored it: "
        f"{e}; look it up, GET /v1/orders/{order_hash}, before signing another",
    )
    body["orderHash"] = order_hash
    return SubmitResult(503, body)


def _give(fut: asyncio.Future[Taken], taken: Taken) -> None:
    """``fut``'s order through the intake: ``taken`` to its request, which waits for the
    commit itself; the request gone, the commit's failure retrieved (the store logs it)."""
    if not fut.done():
        fut.set_result(taken)
    elif not isinstance(taken, bytes) and taken[1] is not None:
        taken[1].add_done_callback(retrieved)
