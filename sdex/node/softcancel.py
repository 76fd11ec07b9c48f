"""Soft cancels: a maker's signed cancel (a wallet's, or one a peer passed on) applied to the
order held here; one for an order not held yet kept (``sdex.node.orphans``) and applied as the
order arrives, whichever way it comes: a peer's (cancel63), a wallet's (cancel65: a wallet
that posted its order to another node and cancelled here before gossip brought it was
answered 404, and the order, when it came, was booked and traded here)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from sdex.book import RemovalReason
from sdex.errors import SignatureError
from sdex.ingest import Rejection
from sdex.ingest.rejections import RejectionCode
from sdex.matching.match import TimeInForce
from sdex.model import OPEN_STATUSES, VALIDATION_FAILED, OrderStatus, error_body, field_error_body
from sdex.node.commitwait import committed
from sdex.node.heldrecord import cancel_fields
from sdex.node.records import Record, SubmitResult
from sdex.node.status import NodeStatus
from sdex.order import SignedOrder, recover_signer
from sdex.signature import signature_parts
from sdex.store import StoreError
from sdex.storeorphans import OrphanRow

log = logging.getLogger("sdex.node")

CANCELLED_WHY = "soft cancel by the maker"
WALLET_SENDER = "wallet:"
"""The sender of a kept cancel a wallet posted, before its client's address (never a peer
id: a peer id is hex); one count a client (``client_group``)."""
STRANGERS = "strangers:"
"""The count of kept cancels sent by peers not in the peer table, before their host group
(``source_group``): made-up keys share one, but a stranger's flood from one host no longer
evicts another host's (cancel65)."""


class NodeSoftCancel(NodeStatus):
    """Soft cancels in: applied, passed on, or kept until their order comes."""

    _pooled_held: frozenset[bytes] = frozenset()
    """The orders the rows a held start adopts later name (``NodeReload._start_holds``): a
    soft cancel of one is refused till then (``_held_cancel``)."""

    def soft_cancel(
        self,
        order_hash: bytes,
        signature: bytes,
        from_peer: str | None = None,
        client: str = "unknown",
    ) -> SubmitResult:
        """Apply the cancel a peer (``from_peer``) or a wallet sent (``client``: its
        ``client_group``; a peer's ``source_group``, "" if not known); one of an order a
        held start's pooled row names waits for its adoption (``_held_cancel``)."""
        if order_hash in self._pooled_held:
            return self._held_cancel(order_hash, signature, from_peer, client)
        rec = self.records.get(order_hash)
        try:
            s = self.registry.stored(order_hash) if rec is None else None  # (closed, evicted)
        except (sqlite3.Error, StoreError) as e:  # (store97: a 500 "internal error", nothing said)
            return _unread(order_hash, e)
        signed = rec.signed if rec is not None else s.signed if s is not None else None
        if signed is None:  # (cancel63, cancel65: its order may come later)
            return self._keep_orphan(order_hash, signature, from_peer, client)
        # (checked before an evicted order is loaded)
        if refused := self._not_makers(order_hash, signature, signed.order.maker):
            return refused
        if rec is None:
            assert s is not None
            if s.cancel_signature is not None:  # closed, its cancel known: nothing to apply
                return SubmitResult(200, {"orderHash": signed.hash_hex, "status": s.status})
            rec = self.registry.load_stored(s)  # back in memory until evicted again
        first = rec.cancel_signature is None
        wallet = from_peer is None
        if rec.cancel_stored and rec.status not in OPEN_STATUSES:  # committed: no rewrite
            return SubmitResult(200, {"orderHash": signed.hash_hex, "status": rec.status})
        writes: list[asyncio.Future[None]] = []
        if first:
            rec.cancel_signature = signature
            rec.cancel_at = rec.cancel_at or self.cancel_position()
        pending = self.cancel_writes.get(order_hash)  # (a peer's repeat waits for them)
        if first or wallet or pending is None:  # a repeat: written again (the first's may
            proof = rec.cancel_signature or signature  # have failed; stored: no rewrite)
            at = rec.cancel_at
            writes.append(self.store.set_cancel_signature(rec.signed.hash_hex, proof, at))
        if rec.status in OPEN_STATUSES:
            if order_hash in self.book:
                self.book.remove(order_hash, RemovalReason.CANCELLED)
            with self.registry.own_writes(rec.signed.hash_hex) as own:  # (its close's row)
                self._close_record(rec, OrderStatus.CANCELLED, CANCELLED_WHY)
            writes.extend(own)
            self.cancels_unread[order_hash] = rec  # (what the chain filled before: chaos52)
            self.cancels_waiting.set()
            log.info("order %s soft-cancelled by its maker", rec.signed.hash_hex)
        elif wallet or (pending is None and not first):  # closed already (a repeat): its
            # row written again, as it is held (review95: a peer's repeat wrote the proof
            # alone, the first's close refused; answered stored, the row open: a restart
            # served the order open)
            writes.append(self.store.update_orders([rec.row()]))
        if first and self.gossip is not None:
            # Peers prune it too, each checking the signature, whatever the status here:
            # an order removed on this node may still rest on others.
            notice = {"orderHash": rec.signed.hash_hex, "signature": "0x" + signature.hex()}
            self.gossip.notify("cancels", notice, exclude=from_peer)
        # Answered once its signature and status are committed: its own writes only (each
        # job may fail alone: a repeat writes both again, so its 200 never rests on a first
        # cancel's refused writes; nor on another order's write queued meanwhile, which may
        # be refused alone too). A peer's too (cancel90: its 200 came before, the sender
        # dropped the cancel, and a kill before the commit left the order open here).
        stored = committed(writes, self.store_wait) if writes else pending
        if writes and stored is not None:
            self.cancel_writes[order_hash] = stored
            stored.add_done_callback(lambda f: self._cancel_written(rec, f))
        body: dict[str, object] = {"orderHash": rec.signed.hash_hex, "status": rec.status}
        body.update(cancel_fields(rec.cancel_at))  # (where it stood: the wallet may keep it)
        return SubmitResult(200, body, stored=stored)

    def _cancel_written(self, rec: Record, done: asyncio.Future[None]) -> None:
        """``soft_cancel``'s writes for ``rec`` over: stored (``cancel_stored``), or not (a
        repeat writes them again); no longer pending."""
        if self.cancel_writes.get(rec.signed.hash) is done:
            del self.cancel_writes[rec.signed.hash]
        _cancel_stored(rec, done)

    def _not_makers(self, order_hash: bytes, signature: bytes, maker: str) -> SubmitResult | None:
        """A 400 if ``signature`` is not ``maker``'s cancel of ``order_hash`` (``soft_cancel``,
        ``_keep_held``), else None."""
        try:
            signer = recover_signer(self.domain.cancel_digest(order_hash), signature)
        except SignatureError as e:
            return SubmitResult(400, field_error_body("signature", 1005, str(e)))
        if signer != maker:
            return SubmitResult(
                400, field_error_body("signature", 1005, "not signed by the order's maker")
            )
        return None

    def _held_cancel(
        self, order_hash: bytes, signature: bytes, from_peer: str | None, client: str
    ) -> SubmitResult:
        """(``soft_cancel``) A soft cancel, refused 503 (try again) while a held start has
        yet to adopt a row the last run left pooled that names its order (``_pooled_held``).
        review85: closed before its row's adoption, the order failed it: the row was given
        up, yet pooled, its other order matched again at the next nonce, which reverted behind
        it (paid); a start that does not hold adopts first, a soft cancel then leaves the row
        to land."""
        if from_peer is not None and (
            kept := self._keep_held(order_hash, signature, from_peer, client)
        ):
            return kept
        why = "the start holds: a settlement the last run left pooled names the order"
        said = f"the node does not follow the chain now: {why}; try again"
        r = Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, said)
        detail = {"chainStatus": "unproven", "why": why}
        return SubmitResult(503, Rejection(r.code, r.errors, detail=detail).to_json())

    def _keep_held(
        self, order_hash: bytes, signature: bytes, peer: str, client: str
    ) -> SubmitResult | None:
        """(``soft_cancel``) A peer's cancel of an order a held start's pooled row names,
        its signature the maker's (else 400): kept as a cancel of an order not held yet is
        (``_keep_orphan``: bounded per sender and in all, each cancel one signature, its row
        stored, 202 once committed), applied once the rows are adopted (``cancels_kept``).
        review86b: refused 503, it was lost (gossip's ``Deliver`` reads no answer), and the
        order rested tradable here after the row landed till anti-entropy brought the cancel
        again. (A wallet's keeps its 503: it reads it and tries again, and its 200 then says
        where the node stood, ``cancelledAtBlock``/``cancelledAtNonce``.) None: the order is
        not in memory (it always is, open: refused 503 then, as a wallet's)."""
        rec = self.records.get(order_hash)
        if rec is None:
            return None
        if refused := self._not_makers(order_hash, signature, rec.signed.order.maker):
            return refused
        log.info("order %s: a peer's cancel kept till the start's hold adopts its row",
                 rec.signed.hash_hex)  # fmt: skip
        return self._keep_orphan(order_hash, signature, peer, client)

    def _keep_orphan(
        self, order_hash: bytes, signature: bytes, peer: str | None, client: str
    ) -> SubmitResult:
        """A cancel of an order not held here, from ``peer`` or else a wallet (``client``),
        kept (``OrphanCancels``: bounded per sender, in all, one a hash from each sender's
        count and signer, and in time) if its signature is well formed (whose it is shows
        only once the order comes: ``cancelled_on_arrival``); 202 then, else 404. Its signer
        recovered now if it is a wallet's (a clear 400 for bytes no key signed; its requests
        are rate-limited), or if the hash holds enough whose signer is not known
        (``needs_signer``: cancel66, the order's arrival recovers a few at most). A wallet's
        is counted one count a client, and not passed on to peers (a peer that holds the
        order would take a signature that is not the maker's for this node's lie: it is
        passed on, checked, when the order comes). Answered once its row is committed, a
        peer's too (cancel66: a peer's 202 came before, and a crash lost the acknowledged
        cancel)."""
        if peer is None:
            sender = bucket = WALLET_SENDER + client
        else:
            stranger = self.gossip is None or self.gossip.peers.get(peer) is None
            sender, bucket = peer, STRANGERS + client if stranger else peer
        signer = None
        try:
            if peer is None or self.orphan_cancels.needs_signer(order_hash, bucket):
                signer = recover_signer(self.domain.cancel_digest(order_hash), signature)
            else:
                signature_parts(signature)  # (no recovery: a flood of these costs no ECDSA)
        except SignatureError as e:
            return SubmitResult(400, field_error_body("signature", 1005, str(e)))
        now, key = time.time(), (order_hash, signature, bucket)
        held = self.orphan_cancels.holds(*key)
        kept = self.orphan_cancels.keep(order_hash, signature, sender, bucket, now, signer)
        self._forget_orphans()  # (those it evicted: before the new row, in the writer's order)
        if not kept:
            return SubmitResult(404, error_body(VALIDATION_FAILED, "order not found"))
        body: dict[str, object] = {"orderHash": "0x" + order_hash.hex(), "status": "kept"}
        if held and (pending := self.orphan_writes.get(key)) is not None:
            return SubmitResult(202, body, stored=pending)  # (cancel90: no row a repeat)
        row = self.store.keep_orphan((order_hash, signature, sender, bucket, now))
        stored = self.orphan_writes[key] = committed([row], self.store_wait)
        stored.add_done_callback(lambda done: self._orphan_written(key, done))
        return SubmitResult(202, body, stored=stored)

    def _orphan_written(self, key: tuple[bytes, bytes, str], done: asyncio.Future[None]) -> None:
        """A kept cancel's row committed or not (a repeat then writes it again)."""
        if self.orphan_writes.get(key) is done:
            del self.orphan_writes[key]
        _retrieved(done)

    def _forget_orphans(self, after: list[asyncio.Future[None]] | None = None) -> None:
        """The rows of the kept cancels forgotten since the last call deleted (queued); once
        the writes ``after`` are committed, if given (none if one is refused: review64). The rows
        of slots let go while another count holds the cancel deleted too (``freed``)."""
        if freed := self.orphan_cancels.freed:
            self.orphan_cancels.freed = []
            self.store.free_orphans(freed).add_done_callback(_retrieved)
        if not (gone := self.orphan_cancels.gone):
            return
        self.orphan_cancels.gone = []
        if after is None:
            self.store.forget_orphans(gone)
            return

        def then(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.store.forget_orphans(gone)

        committed(after).add_done_callback(then)

    def cancels_kept(self) -> None:
        """The kept cancels (``orphan_cancels``) of orders held here applied: a peer's that a
        held start kept of an order a pooled row names
        (``_keep_held``), once the row is adopted, or by the next start after a
        stop (the row may have landed meanwhile: then not adopted; review86b). Each as a
        wallet's is (its writes' commit awaited, ``stored``), its kept rows deleted once
        that is committed (review64); one that is not the maker's is dropped, and costs its
        sender a penalty if it is an admitted peer, as in ``cancelled_on_arrival`` (review88:
        dropped, no penalty)."""
        now = time.time()
        for h in self.orphan_cancels.hashes():
            if not self.registry.held(h):
                continue
            for o in self.orphan_cancels.take(h, now):
                said = self.soft_cancel(h, o.signature)
                if said.status == 200:
                    log.info("order %s: a peer's cancel kept for it applied", "0x" + h.hex())
                    self._forget_orphans(None if said.stored is None else [said.stored])
                    break
                if said.status == 400:  # (not the maker's signature)
                    self._forged_kept(o.sender)
        self._forget_orphans()  # (those none applied: deleted at once)

    def _forged_kept(self, sender: str) -> None:
        """A kept cancel's signature is not its order's maker's: a penalty for ``sender`` if
        it is an admitted peer (an honest node passes on only cancels it verified); not a
        stranger's, nor a wallet's (``cancelled_on_arrival``)."""
        if self.gossip is not None and self.gossip.peers.get(sender) is not None:
            self.gossip.penalize(sender)

    async def load_orphans(self) -> None:
        """The kept cancels the store holds (at a start): back in memory, bounded as ever,
        each with its signer (recovered off the loop: up to ``TOTAL`` of them)."""
        oc = self.orphan_cancels
        rows = await self.store.orphan_rows(time.time() - oc.kept_seconds, oc.total)
        signers = await asyncio.to_thread(_signers, self.domain.cancel_digest, rows)
        for (h, sig, sender, bucket, at), signer in zip(rows, signers, strict=True):
            if signer is not None:  # (None: no key signed it, an edited row)
                oc.keep(h, sig, sender, bucket, at, signer)
        self._forget_orphans()

    def cancelled_on_arrival(self, signed: SignedOrder, filled: int, source: str) -> bool:
        """``signed`` (new here, its own signature checked) held ``cancelled``, never booked,
        if a peer or a wallet passed on its maker's cancel before it came (``_keep_orphan``);
        the cancel then goes on to the peers, as one applied here would. Those whose signer
        is known are looked at first (no recovery), then the few others, up to the first
        that is the maker's. A kept signature that is not its maker's is dropped, and costs
        its sender a penalty if it is an admitted peer (an honest node passes on only cancels
        it verified). Not a stranger's (cancel66): its key is free to make, so a penalty binds
        nothing, and a pile of 20,000 strangers' fakes on one hash penalized 20,000 made-up
        keys, each past the 4,096 standings kept a walk of them (``Peers.standing``), seconds
        of the loop; a wallet's never."""
        kept = self.orphan_cancels.take(signed.hash, time.time())
        kept.sort(key=lambda o: o.signer is None)  # (known signers first: no ECDSA)
        digest = self.domain.cancel_digest(signed.hash) if kept else b""
        for o in kept:
            signer = o.signer
            if signer is None:
                try:
                    signer = recover_signer(digest, o.signature)
                except SignatureError:
                    signer = ""
            if signer != signed.order.maker:
                self._forged_kept(o.sender)
                continue
            rec = self.hold_cancelled(signed, o.signature, source, filled)
            self.cancels_unread[signed.hash] = rec  # (what the chain filled before: chaos52)
            self.cancels_waiting.set()
            if self.gossip is not None:
                notice = {"orderHash": signed.hash_hex, "signature": "0x" + o.signature.hex()}
                self.gossip.notify("cancels", notice, exclude=o.sender)
            log.info("order %s came soft-cancelled already (a peer's cancel)", signed.hash_hex)
            return True
        self._forget_orphans()
        return False

    def hold_cancelled(
        self, signed: SignedOrder, signature: bytes, source: str, filled: int
    ) -> Record:
        """``signed`` (both signatures its maker's) held ``cancelled`` with ``filled`` (as the
        chain has it when taken), its row and cancel written (not awaited); the rows of the
        cancels kept for it deleted once those are committed (review64: deleted first, a
        refused row and a restart lost both, and the order came back open)."""
        self.orphan_cancels.take(signed.hash, 0.0)  # (held now: none kept for it)
        self._seq += 1
        filled = min(filled, signed.order.maker_amount)
        rec = Record(signed, self._seq, source, OrderStatus.NEW, filled, reason=CANCELLED_WHY)
        rec.cancel_signature, rec.cancel_at = signature, self.cancel_position()
        self.registry.admit(rec, OrderStatus.CANCELLED)  # (closed: evicted after its grace)
        row = self.store.add_order_async(
            signed, rec.seq, OrderStatus.CANCELLED, source, TimeInForce.GTC.value, rec.json
        )
        assert row is not None  # (waited: its commit tells)
        proof = self.store.set_cancel_signature(signed.hash_hex, signature, rec.cancel_at)
        self._forget_orphans([row, proof, self.store.update_orders([rec.row()])])
        return rec


def cancel_unstored(applied: SubmitResult, e: StoreError) -> SubmitResult:
    """503 for a wallet's soft cancel ``applied`` here (its order closed in memory, out of
    the book, passed on to peers) whose writes were not committed in time or were refused
    (``e``): what the node holds said, and that the same cancel sent again is safe and says
    when it is stored (users86: "the cancel was not stored" read as not applied, the order
    still open). ``orderHash`` and ``status`` as a 200's; a cancel kept for an order not
    held (202 ``"kept"``) said so, not as the order's status (review88)."""
    h, status = applied.body["orderHash"], applied.body["status"]
    restart = "a restart of the node before it stores the cancel would bring the order back"
    answer = "202" if applied.status == 202 else "200"
    if applied.status == 202:  # (review88: "kept" read as the order's status here)
        said = (
            f"the node does not hold order {h} (yet): it kept the cancel in memory, to apply "
            f"if the order comes, but has not stored it: {e}; a restart of the node before it "
            "stores the cancel would lose it (the order, if it came then, taken open)"
        )
    elif status == OrderStatus.CANCELLED.value:
        said = (
            f"the node cancelled order {h} (out of its book: it trades no more through this "
            f"node) but has not stored the cancel: {e}; {restart} open"
        )
    else:
        said = (
            f"order {h} was {status} at the node already (nothing to cancel) and it has not "
            f"stored the signed cancel: {e}"
        )
    again = (
        f"; send the same cancel again (safe: it cancels nothing more): {answer} says it is stored"
    )
    return SubmitResult(503, {**error_body(100, said + again), **applied.body})


def _unread(order_hash: bytes, e: BaseException) -> SubmitResult:
    """503 for a soft cancel of an evicted (closed) order whose row the store refused to
    read: nothing checked, applied or kept; the same cancel safe to send again."""
    h = "0x" + order_hash.hex()
    said = (
        f"the node's store refused to read order {h} ({type(e).__name__}: {str(e)[:200]}): "
        "its maker's signature could not be checked, nothing was cancelled or kept; send the "
        "same cancel again later"
    )
    return SubmitResult(503, {**error_body(100, said), "orderHash": h})


def _signers(digest_of: Callable[[bytes], bytes], rows: list[OrphanRow]) -> list[str | None]:
    """Each row's signer (None: no key signed it); on a worker thread at a start."""
    out: list[str | None] = []
    for h, sig, *_ in rows:
        try:
            out.append(recover_signer(digest_of(h), sig))
        except SignatureError:
            out.append(None)
    return out


def _retrieved(done: asyncio.Future[None]) -> None:
    """A kept cancel's row not committed: said once (a fetch's proofs have no one waiting)."""
    if not done.cancelled() and (e := done.exception()) is not None:
        log.warning("a kept cancel's row was not stored: %s", e)


def _cancel_stored(rec: Record, done: asyncio.Future[None]) -> None:
    if not done.cancelled() and done.exception() is None and rec.status not in OPEN_STATUSES:
        rec.cancel_stored = True
