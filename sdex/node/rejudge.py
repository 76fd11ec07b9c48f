"""Closed orders judged again, when the chain may no longer have what closed them: after a
reorg or a reset (every order) or a maker's cancel-up-to (its orders). An order closed by the
chain that it now holds fillable returns to the book (``_rejudge``), a one-shot (IOC or FOK)
order never rests, a close this node decided (``POLICY_REASONS``) stays; closed orders evicted
from memory are walked in the store a page at a time (``_rejudge_stored``); fills a reorg undid
and mined again go back into their closed orders (``_remined``)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from types import MappingProxyType

from sdex.book.errors import BookError
from sdex.chain import OrderState
from sdex.ingest import Rejection, RejectionCode, judge, removal_of
from sdex.matching.match import TimeInForce
from sdex.model import CHAIN_CLOSED, OrderStatus, closed_status
from sdex.node.gate import NodeGate
from sdex.node.readlater import REFUSALS, why
from sdex.node.registry import Record
from sdex.node.reopening import chain_word_needed, message
from sdex.node.verdicts import NO_STATES
from sdex.order import SignedOrder, bitmap_nonce
from sdex.store import StoredOrder
from sdex.watch.changes import durable

log = logging.getLogger("sdex.node")
CHAIN_CLOSED_NAMES = sorted(s.value for s in CHAIN_CLOSED)
PageRead = Awaitable[tuple[list[StoredOrder], int]]
REJUDGE_PAGE = 500
"""Closed orders read back from the store at a time, to be judged again (``_rejudge_stored``)."""
REJUDGE_CHUNK = 100
"""Of a page, the orders judged between two turns of the event loop (``_rejudge_page``)."""
REMINED_LATER = 1024
"""Orders at most whose fills mined again wait for their rows (``_remined``); past it the
oldest is let go (logged): the recheck judges it by the chain's word, without that amount."""
REMINED_PAGES = 20
"""Pages of an order's stored fills (500 each) ``_remined_stored`` reads at most."""


POLICY_REASONS = ("soft cancel by the maker", "self_trade", "unmatched", "removed")
"""Reasons of closes this node decided (not the chain): a reorg does not undo them."""


class NodeRejudge(NodeGate):
    """Closed orders judged again by the chain's word: reopened, closed otherwise, or kept."""

    _back: Mapping[bytes, int] = MappingProxyType({})  # the block's ``mined_again``
    rejudge_walk: dict[str, int] | None = None
    """The walk of every closed order a reset began (``_rejudge_stored``, after ready at a
    start: ``Node._watch``) and how far each of its parts went, until it is through (kept
    if it failed: due again); None when none is under way. The orders it has not reached
    yet still say what the old chain had (``not_rejudged``)."""

    _remined_later: dict[bytes, int] | None = None
    """Closed orders' fills mined again (``_remined``) whose rows the store refused: the
    amounts, taken in at the next blocks, oldest first."""

    def not_rejudged(self, order_hash: bytes) -> bool:
        """Whether a reset's walk under way has yet to judge this closed order again
        (gate77: ``GET /v1/orders/{hash}`` said ``filled`` where the new chain has it
        fillable, with nothing to tell the old chain's word from the new one's)."""
        walk = self.rejudge_walk
        if walk is None:
            return False
        rec = self.records.get(order_hash)
        if rec is not None:
            status, reason, seq, filled = rec.status.value, rec.reason, rec.seq, rec.filled
        elif (s := self.registry.stored(order_hash)) is not None:
            status, reason, seq, filled = s.status, s.reason, s.seq, s.filled
        else:
            return False
        parts = []
        if status in CHAIN_CLOSED_NAMES and reason not in POLICY_REASONS:
            parts.append("")
        if filled and status in ("removed", "cancelled"):
            parts.append(f"{status}:")
        return any(seq > walk.get(key, 0) >= 0 for key in parts)

    async def _judge_from_mirror(
        self, orders: list[SignedOrder], reopen: set[bytes], verify: set[bytes] | None = None
    ) -> None:
        """Apply the mirror's view of ``orders`` (a chain read only for accounts it does not
        hold yet, all in one call); orders in ``reopen`` may come back to the book (judged
        again: ``_rejudge``). Orders of EIP-1271 makers without a cached verdict, and those in
        ``verify``, are judged by the chain (``_states_of``), as are those of ``reopen`` out of
        the book whose signature is not its maker's ECDSA one: a start's reload's rule
        (``_reload_orders``). review98c: a record read back from its row (a file: hostile)
        went back in the book on the mirror's word, its signature edited in the file, its
        match settled to revert; a contract maker's, its verdict dropped by the reorg."""
        book = self.book
        unproven = {so.hash for so in orders if so.hash in reopen and chain_word_needed(so, book)}
        states = await self._states_of(orders, (verify or set()) | unproven)
        # Not the orders an own settlement filled in a block the mirror has not applied
        # yet (its receipt came first, maybe during the reads above): the mirror's verdict
        # on them is older than what the node confirmed. That block judges them again: the
        # book's by its fills, a closed one (its confirm counted in a fill a reorg or reset
        # undid) by the recheck (reorg62: ``filled`` for good, the chain ``FILLABLE``)
        ahead, _ = self.mirror.ahead()
        for so in orders:
            if self._read_past_mirror(so.hash):  # (a newer chain word applied: revert78)
                self._recheck.add(so.hash)  # (judged once the mirror is there)
                continue
            if so.hash in ahead:
                self._recheck.add(so.hash)
                if so.hash not in reopen:  # (a fill elsewhere meanwhile: revert75)
                    self._filled_ahead(so)
                continue
            state = states[so.hash]
            if so.hash in reopen:
                self._rejudge(so, state)
            else:
                self._apply_chain_state(so, state)

    def _undone_under(self, so: SignedOrder, state: OrderState) -> None:
        self._rejudge(so, state)

    def _rejudge(self, so: SignedOrder, state: OrderState) -> None:
        """After a reorg or reset: the chain's word on an order, whatever it was before. An
        order closed by the chain (filled, cancelled on chain, expired) that the chain now
        holds fillable returns to the book; the websocket says ``reopened``."""
        rec = self._load_or_later(so.hash)  # (evicted meanwhile: back from the store)
        if rec is None:
            return
        st = self.book.get(so.hash)
        if st is not None and st.closed is None:
            before = st.filled
            self._apply_chain_state(so, state)
            if state.filled < before:
                self.registry.publish(rec, "fill_reverted")
            return
        if st is not None and st.pending:  # in flight: the settler's outcome decides,
            self._recheck.add(so.hash)  # then the mirror's word (``_recheck_settled``)
            return
        if (
            rec.status not in CHAIN_CLOSED
            or rec.reason in POLICY_REASONS
            or rec.cancel_signature is not None
        ):
            # open, or removed here by policy (soft cancel, self-trade...), or closed by
            # the chain and soft-cancelled by its maker since: stays so, with the chain's
            # filled amount when closed (review20: a soft-cancelled order kept a fill a
            # reset undid, shown filled with no fill listed)
            # (up only by fills a reorg undid, mined again: review23, a cancel-up-to took in
            # a fill made after a soft cancel, hiding it from the audit)
            # (its maker's soft cancel: the chain's filled amount, whatever filled it when:
            # a soft cancel binds the nodes, not the chain; cancel62)
            filled = state.filled
            if filled > rec.filled and rec.cancel_signature is None:
                filled = min(filled, rec.filled + self._back.get(so.hash, 0))
            if self._cancel_stands(so, rec, state):
                why = "soft cancel by the maker"
                self.registry.transition(rec, OrderStatus.CANCELLED, why, filled=filled)
            elif not rec.status.is_open and rec.filled != filled:
                self._closed_filled(rec, filled)
            return
        verdict = judge(so, state)
        o = so.order
        if removal_of(verdict) is None and self.chain_time() >= o.expiry:
            # expired by the chain's clock (``chain_time``: the wall clock past it), which a
            # head stamped before the expiry does not undo (``unexpired`` forgets such an
            # order; the chain's next block says so too). review63: closed ``expired`` so,
            # a reorg's (or chaos62's recheck's) verdict reopened it until the next sweep
            verdict = Rejection.of(RejectionCode.EXPIRED)
        removal = removal_of(verdict)
        if removal is None and rec.tif is not TimeInForce.GTC:
            # an IOC or FOK order never rests, whatever the chain says is left of it (as at
            # a restart: ``_load_stored``): closed as it was unless the chain undid some of
            # its fills. review20: reopened, a reorg's rested for its whole amount, matched
            # again and its rest stayed in the book; a partly filled IOC (its rest dropped)
            # rested its rest after its maker's cancel-up-to
            if state.filled < rec.filled:
                why = _undone_reason(rec.tif)
                self.registry.transition(rec, OrderStatus.REMOVED, why, filled=state.filled)
            elif state.filled != rec.filled:
                self.registry.correct_filled(rec, state.filled)
            return
        if removal is None:
            funds = min(state.maker_balance, state.maker_allowance)
            self._mirror_funds(o.maker, o.maker_token, funds)
            try:
                back = self.registry.rests(so, state.filled)
            except BookError as e:
                log.info("order %s cannot return to the book: %s", so.hash_hex, e)
                return
            if not back:
                # what the chain leaves is dust (a maker's cancel-up-to makes us look again
                # at orders closed here as filled with dust left): it stays closed
                if rec.filled != state.filled:
                    self.registry.correct_filled(rec, state.filled)
                return
            why = "reopened: the chain no longer has what closed it (reorg or reset)"
            self.registry.transition(
                rec, OrderStatus.OPEN, why, filled=state.filled, event="reopened"
            )
            self._announce_if_resting(rec)  # (read back from the store: not announced)
            return
        status = closed_status(removal, False)
        if status is OrderStatus.REMOVED:  # not the chain's to say (e.g. an invalid signature)
            status = rec.status
        if status != rec.status or state.filled != rec.filled:
            self.registry.close(rec, status, message(verdict), state.filled)

    @staticmethod
    def _cancel_stands(so: SignedOrder, rec: Record, state: OrderState) -> bool:
        """Whether ``rec``, closed by the chain (filled, cancelled on chain, expired) and
        soft-cancelled by its maker since, is now ``cancelled``: the chain no longer closes
        it (a reorg undid what did) and its maker's cancel does. chaos60: it stayed
        ``filled`` with the chain's 0 filled, the chain ``FILLABLE``."""
        return (
            rec.status in CHAIN_CLOSED
            and rec.status is not OrderStatus.CANCELLED
            and rec.reason not in POLICY_REASONS
            and rec.cancel_signature is not None
            and removal_of(judge(so, state)) is None
        )

    def _remined(self, amounts: dict[bytes, int]) -> asyncio.Future[None] | None:
        """Fills a reorg undid, mined again in this block (the same transactions): a closed
        order out of the book (e.g. an IOC closed ``removed`` when they were undone) takes
        them back into its filled amount, up to the chain's. Those alone: a fill of it the
        reorg did not undo stays out, for the audit to see (``fill_after_node_closed``),
        unless its maker soft-cancelled it (``_closed_follow_chain``: the chain's amount)."""
        later = self._remined_later
        if later is None:
            later = self._remined_later = {}
        taken: set[bytes] = set()  # (put off before: their undone rows forgotten now)
        if later:  # (refused at an earlier block: taken in now, with this block's)
            amounts = {h: n + amounts.get(h, 0) for h, n in later.items()} | {
                h: n for h, n in amounts.items() if h not in later
            }
        for h, amount in amounts.items():
            if h in self.book:
                if later.pop(h, None) is not None:
                    taken.add(h)
                continue  # the book's orders take the chain's filled amount (``_on_block``)
            try:
                rec = self.registry.load(h)  # (evicted: back from the store)
            except REFUSALS as e:
                later[h] = amount  # (its undone rows kept till then: a start reads them)
                self._read_later({h: why(e)})
                continue
            if later.pop(h, None) is not None:
                taken.add(h)
            if rec is None or rec.status.is_open:
                continue
            filled = min(self.mirror.filled_of(h), rec.filled + amount)
            if filled > rec.filled:
                self._closed_filled(rec, filled)
        while len(later) > REMINED_LATER:
            h = next(iter(later))
            del later[h]
            taken.add(h)
            log.warning(
                "0x%s: fills mined again not taken into its closed record (more than %d wait "
                "for the store): judged by the chain's word alone", h.hex(), REMINED_LATER,
            )  # fmt: skip
        return self._undone.forget_orders(taken) if taken else None

    def _rechecks_read_back(self, back: list[bytes]) -> None:
        """Spilled rechecks read back (``Rechecks.refilled``): their fills mined again put
        off taken up, and a pass over the list begun (review98b: they waited for the next
        block or settlement; an idle chain's, for good)."""
        self._remined_stored(back)
        self._drain_later(NO_STATES, anew=True)

    def _remined_stored(self, due: Iterable[bytes]) -> None:
        """At a start (and as spilled rechecks are read back: ``Rechecks.refilled``), of
        the orders due a recheck: the fills mined again whose amount ``_remined`` put off
        (the store refused the record; its undone rows kept, the fill's row stored again),
        to be taken in (``_remined_later``; one waiting there already, not twice).
        review96e: kept in memory only, a stop lost them; the start's recheck kept the
        record's amount for good, below the chain (``_rejudge``: an order closed by policy
        takes no fill but its block's mined again), the audit seeing a fill after close."""
        kept = self._undone.kept_of(set(due))
        later = self._remined_later
        if later is None:
            later = self._remined_later = {}
        for h, txs in kept.items():
            if h in later:  # (read back mid-run, store97: its amount waits already)
                continue
            mined: set[str] = set()
            try:  # (its fills a page at a time: those of ``txs`` stored again)
                for page in range(1, REMINED_PAGES + 1):
                    total, fills = self.store.fills(page, 500, order_hash="0x" + h.hex())
                    mined.update(t for f in fills if (t := f.tx_hash.lower()) in txs)
                    if page * 500 >= total or len(mined) == len(txs):
                        break
            except REFUSALS as e:
                log.warning("0x%s: fills not read (%s)", h.hex(), why(e))
                continue
            if n := sum(txs[t] for t in mined):
                later[h] = later.get(h, 0) + n

    def _closed_follow_chain(self, hashes: Iterable[bytes]) -> None:
        """Fills of closed orders out of the book that the chain may still fill, their
        filled amount up to the chain's: those closed ``filled`` with dust left (below the
        node's minimums: the book trades it no more; chaos60: the node said ``filled`` at
        what it closed them with, the chain more; held records only, a fill of the dust
        lands within the closed records' grace), and those their maker soft-cancelled (held,
        or back from the store: the order lives on chain, anyone holding it may fill it, and
        that fill is real whenever it was made; cancel62: a match in flight at a node two
        hops away, or made after the cancel, was left out of the record for good)."""
        records = self.records
        for h in hashes:
            rec = records.get(h)
            if rec is None and h not in self.book:  # evicted: back from the store, if so
                try:
                    s = self.registry.stored(h)
                except REFUSALS as e:  # (store95: the block applied)
                    self._read_later({h: why(e)})
                    continue
                if s is not None and (s.cancel_signature or s.status == OrderStatus.FILLED):
                    rec = self.registry.load_stored(s)
            if rec is None or h in self.book or rec.status.is_open:
                continue
            if rec.status is not OrderStatus.FILLED and rec.cancel_signature is None:
                continue
            full = rec.signed.order.maker_amount
            if rec.filled >= full:  # (filled in full, as most are: the chain's is no more)
                continue
            filled = min(self.mirror.filled_of(h), full)
            if filled > rec.filled:
                self.registry.correct_filled(rec, filled)

    def _closed_filled(self, rec: Record, filled: int) -> None:
        """A closed order's filled amount as the chain now has it. A one-shot order removed
        only because a reorg undid its fills (``_rejudge``), or because it was open at a
        restart (its settlement in flight), with them back, is what its settlement made it
        (review23: it stayed ``removed``, "its fills were undone"; chaos60: "not resting
        after restart", all of it filled)."""
        if (
            filled > rec.filled
            and rec.status is OrderStatus.REMOVED
            and rec.reason in (_undone_reason(rec.tif), *restart_reasons(rec.tif))
        ):
            if filled >= rec.signed.order.maker_amount:
                self.registry.transition(rec, OrderStatus.FILLED, "filled", filled=filled)
                return
            rec.reason = partly_reason(rec.tif)
        self.registry.correct_filled(rec, filled)

    async def _rejudge_stored(
        self, makers: list[str] | None, walked: dict[str, int], bitmap: bool = False
    ) -> None:
        """After a reset (every order) or a cancel-up-to (``makers``' orders): the orders
        closed by the chain and evicted from memory are judged again too, a page at a time
        (``_rejudge``: reopened, or closed otherwise). Those that stay as stored leave
        memory again at once, so memory holds a page, whatever the number of closed orders.
        One maker at a time (its (maker, seq) index), each page read off the event loop,
        which runs between pages. ``walked``: how far each walk went (``""``: the walk of
        every maker), so changes applied again after a failure resume it there. ``bitmap``:
        the makers' bitmap orders only (a reorg undid a fill of their nonces: ``_on_block``).

        A reset also walks the ``removed`` orders with a filled amount (by their own index:
        those with none, most, are not read): the chain may no longer have it. chaos61: a
        FOK whose settled part a reorg undid while its last match was in flight (the recheck
        of it, memory only, lost by a kill) kept that part through the reset at its restart,
        ``removed`` at 0.39999 filled, the chain 0. And the soft-cancelled ones with a filled
        amount (skipped by the walk above as the node's own closes): chaos66, an order
        soft-cancelled, then filled by another node's settlement, which a reorg undid before
        a kill, kept the undone fill (its record follows the chain's filled amount:
        cancel62), ``cancelled`` with the whole order filled, the chain 0."""
        store = self.store
        every = makers is None and not bitmap  # (a reset's: ``not_rejudged`` till through)
        if every:
            self.rejudge_walk = walked
        for maker in [None] if makers is None else makers:
            key = ("bitmap:" if bitmap else "") + (maker or "")

            def closed(after: int, m: str | None = maker) -> PageRead:
                return store.orders_after(
                    CHAIN_CLOSED_NAMES, m, after, REJUDGE_PAGE, POLICY_REASONS
                )

            await self._rejudge_walk(closed, key, walked, bitmap)
        if makers is None and not bitmap:
            read = partial(store.removed_filled_after, limit=REJUDGE_PAGE)
            await self._rejudge_walk(read, "removed:", walked, False)
            read = partial(store.cancelled_filled_after, limit=REJUDGE_PAGE)
            await self._rejudge_walk(read, "cancelled:", walked, False)
        if every and self.rejudge_walk is walked:
            self.rejudge_walk = None

    async def _rejudge_walk(
        self,
        read: Callable[[int], PageRead],
        key: str,
        walked: dict[str, int],
        bitmap: bool,
    ) -> None:
        """One walk of ``_rejudge_stored``: pages by ``read`` from ``walked[key]`` on."""
        w = self.watcher  # (each page read on the writer thread: a stall said on /health)
        after = walked.get(key, 0)
        while after >= 0:
            page, last = await durable(read(after), w.store_wait, w.stalled)
            if bitmap:
                page = [s for s in page if bitmap_nonce(s.signed.order.salt) is not None]
            await self._rejudge_page(page)
            after = walked[key] = last if last > after else -1  # (-1: through)
            await asyncio.sleep(0)  # (what else waits runs between pages)

    async def _rejudge_page(self, page: list[StoredOrder]) -> None:
        """``_rejudge_stored``'s page, ``REJUDGE_CHUNK`` orders at a time, the event loop
        running between them (reset74: a page of 500 at once held it 250-550 ms while the
        node served, about 0.5-1 ms an order)."""
        for i in range(0, len(page), REJUDGE_CHUNK):
            if i:
                await asyncio.sleep(0)
            await self._rejudge_chunk(page[i : i + REJUDGE_CHUNK])

    async def _rejudge_chunk(self, page: list[StoredOrder]) -> None:
        """Orders of a page: loaded, judged, unloaded again if left as stored (its soft
        cancel's proof too: gossip98, one a cancel brought meanwhile, its write refused, was
        dropped with it; kept, ``evict`` writes it again before it drops the record)."""
        loaded: list[tuple[Record, tuple[str, str, int, str], bytes | None]] = []
        for s in page:
            if s.signed.hash in self.records:
                continue  # held: judged in ``_on_block``
            rec = self.registry.load_stored(s)
            loaded.append((rec, rec.row(), rec.cancel_signature))
        hashes = {r.signed.hash for r, _, _ in loaded}
        self.registry.pin(hashes)  # (not evicted while the chain is read)
        try:
            await self._judge_from_mirror([r.signed for r, _, _ in loaded], reopen=hashes)
        finally:
            self.registry.unpin(hashes)
        for rec, row, proof in loaded:
            if rec.row() == row and rec.cancel_signature == proof:  # as stored: nothing to write
                self.registry.unload(rec)


def restart_reason(tif: TimeInForce, filled: int = 0) -> str:
    """A one-shot order's reason when it was open at a restart (``_reload_orders``): its
    match was settled or not, it never rests; a settlement of it in flight may land after
    (``_closed_filled``: filled in full, it is ``filled``; chaos60). Filled in part by the
    chain's word then (a settlement mined while the node was down, the orders read from
    the chain: fix78b), it says so, as when the fill is counted after the restart."""
    return partly_reason(tif) if filled else f"{tif.value}: not resting after restart"


def restart_reasons(tif: TimeInForce) -> tuple[str, str]:
    """Either reason a one-shot order closed at a restart has (``restart_reason``)."""
    return restart_reason(tif), restart_reason(tif, 1)


def partly_reason(tif: TimeInForce) -> str:
    """A one-shot order's reason when it traded in part, its unmatched rest dropped."""
    return f"{tif.value}: partly filled; the unmatched rest was dropped"


def _undone_reason(tif: TimeInForce) -> str:
    """A one-shot order's reason when a reorg or reset undid its fills (``_rejudge``)."""
    return f"{tif.value}: its fills were undone (reorg or reset); it never rests"
