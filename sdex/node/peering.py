"""What gossip asks of the node: cancel notices and proofs, digests, snapshots, fetches,
and settlement notices (checked against the chain's receipt)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from sdex.chain import Receipt
from sdex.errors import OrderParseError, SignatureError
from sdex.gossip.payload import fits
from sdex.matching.match import TimeInForce
from sdex.model import OPEN_STATUSES, FillEvent, OrderStatus, field_error_body
from sdex.node.held import hash_of
from sdex.node.records import Record, SubmitResult
from sdex.node.settle import NodeSettlement
from sdex.node.views import _stored_fills
from sdex.order import SignedOrder, parse_hex_bytes, recover_signer, validity_errors

log = logging.getLogger("sdex.node")


class NodePeering(NodeSettlement):
    """The node's side of the gossip protocol."""

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
            return SubmitResult(400, field_error_body("signature", 1005, str(e)))
        result = self.soft_cancel(order_hash, signature, from_peer=peer)
        if result.status == 400 and self.gossip is not None:  # the maker never signed it
            self.gossip.penalize(peer)
        return result

    async def cancel_proofs(self, hashes: Iterable[str]) -> list[dict[str, str]]:
        """For orders soft-cancelled here: the maker's signed cancel, to show a peer. Those
        evicted from memory (the filter says maybe) are read from the store in one
        query of their signatures alone, off the event loop (a peer names up to 5,000)."""
        out: list[dict[str, str]] = []
        maybe: list[str] = []
        evicted = self.registry.evicted
        for h in hashes:
            b = hash_of(h)
            if b is None:
                continue
            rec = self.records.get(b)
            if rec is not None:
                if rec.cancel_signature is not None:
                    sig = "0x" + rec.cancel_signature.hex()
                    out.append({"orderHash": rec.signed.hash_hex, "signature": sig})
            elif evicted.count and b in evicted:
                maybe.append("0x" + b.hex())
        if maybe:  # (on the writer thread: a stalled store leaves them to the next round)
            try:  # (not wait_for: on 3.11 it swallows a cancel that lands as the read ends)
                async with asyncio.timeout(self.store_wait):
                    sigs = await self.store.cancel_signatures(maybe)
            except TimeoutError:
                log.warning("cancel proofs not read within %g s: the store stalls", self.store_wait)
                sigs = {}
            out += [{"orderHash": h, "signature": sigs[h]} for h in maybe if h in sigs]
        return out

    async def cancelled_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        """Orders soft-cancelled here and not yet expired, with arrival sequence > ``after``,
        each with its maker's signed cancel (its JSON and ``cancelSignature``), as many as fit in
        ``max_bytes``; and the next cursor. A node that joins later takes them from its
        bootstrap peer (``take_cancelled``): without them it never heard of the order nor of
        its cancel, and anyone could post the order to it and trade it (attack38)."""
        now = self.now()
        rows, nxt = await self.store.soft_cancels_after(after, limit, now)
        out, seqs = [], []
        for s in rows:
            if s.cancel_signature is not None and s.signed.order.expiry > now:
                out.append(
                    {**s.signed.to_json(), "cancelSignature": "0x" + s.cancel_signature.hex()}
                )
                seqs.append(s.seq)
        n = fits(out, max_bytes)
        if n < len(out):  # (review44: the cursor of the last row read skipped those cut)
            nxt = seqs[n - 1] if n else after
        return out[:n], nxt

    def take_cancelled(self, notice: object, peer: str) -> bool:
        """A peer's soft-cancelled order with its maker's signed cancel
        (``cancelled_page``): held here from now on as ``cancelled``, never booked, so a
        copy posted later is answered as cancelled, as on the nodes that saw the cancel. Both
        signatures are the maker's (an EOA's: a contract wallet's order is left to
        anti-entropy); anything else costs the peer a penalty. An order held already takes
        the cancel as a notice (``soft_cancel``)."""
        try:
            if not isinstance(notice, dict):
                raise SignatureError("a cancelled order is an object")
            order = dict(notice)
            signature = parse_hex_bytes(order.pop("cancelSignature", None), "cancelSignature")
            signed = SignedOrder.from_json(order, self.domain)
            if len(signed.signature) != 65:
                return False  # (a contract wallet's: not judged here)
            maker = signed.order.maker
            if recover_signer(signed.hash, signed.signature) != maker or validity_errors(
                signed.order
            ):
                raise SignatureError("not an order its maker signed")
        except (OrderParseError, SignatureError, ValueError):
            if self.gossip is not None:
                self.gossip.penalize(peer)
            return False
        if self.registry.held(signed.hash):
            return self.soft_cancel(signed.hash, signature, from_peer=peer).status == 200
        try:
            signer = recover_signer(self.domain.cancel_digest(signed.hash), signature)
        except SignatureError:
            signer = ""
        if signer != maker:
            if self.gossip is not None:
                self.gossip.penalize(peer)
            return False
        if signed.order.expiry <= self.now():
            return False  # (expired: nothing to protect)
        self._seq += 1
        source = f"peer:{peer}"
        rec = Record(signed, self._seq, source, OrderStatus.NEW, reason="soft cancel by the maker")
        rec.cancel_signature = signature
        self.registry.admit(rec, OrderStatus.CANCELLED)  # (closed: evicted after its grace)
        self.store.add_order_async(
            signed, rec.seq, OrderStatus.CANCELLED, source, TimeInForce.GTC.value, rec.json, False
        )
        self.store.set_cancel_signature(signed.hash_hex, signature)
        self.store.update_orders([rec.row()])
        return True

    def digest(self) -> list[str]:
        """256 buckets (by the hash's first byte), each the XOR of the hashes of its
        gossiped orders (announced and open; kept by the registry as they change)."""
        return self.registry.digest()

    def hashes_in(self, buckets: Iterable[int]) -> list[str]:
        return self.registry.hashes_in(set(buckets))

    def open_orders_by_hash(self, hashes: Iterable[str], max_bytes: int) -> list[dict[str, str]]:
        out = []
        for h in hashes:
            rec = self._record_at(h)
            if rec is not None and rec.announced and rec.status in OPEN_STATUSES:
                out.append(rec.json)
        return out[: fits(out, max_bytes)]

    def snapshot_page(
        self, after: int, limit: int, max_bytes: int
    ) -> tuple[list[dict[str, str]], int]:
        """Open orders with arrival sequence > ``after``, oldest first, as many as fit in
        ``max_bytes``; and the next cursor."""
        page = self.registry.gossiped_after(after, limit)  # (a range, not a sort per page)
        page = page[: fits((r.json for r in page), max_bytes)]
        return [r.json for r in page], (page[-1].seq if page else after)

    async def settlement_notice(self, tx_hash: str) -> bool:
        """A peer says ``tx_hash`` settled orders: believe the receipt, not the peer.

        Applies the transaction's fills as the watcher would (a block early), and holds
        the orders and makers' funds it read ahead of the mirror's verdicts until the
        mirror reaches the transaction's block (a verdict of the block before would take
        the fills back meanwhile: ``Mirror.note_ahead``). False if the chain knows no such
        successful transaction, or when peers' notices have spent their read budget
        (``sdex.node.refused.NOTICE_READS``: the watcher applies it with its block). A
        transaction a notice applied already costs no read. The transaction's fills are
        stored first (``_notice_fills_stored``): no order is closed by it before the fills
        that explain it are durable."""
        if self.notices.applied(tx_hash):
            return True
        if not self.notices.may_read():
            return False
        raw = await self.rpc.call("eth_getTransactionReceipt", tx_hash)
        try:  # (an answer that is no receipt, a broken or hostile endpoint's: nothing believed)
            receipt = Receipt.from_rpc(raw) if isinstance(raw, dict) else None
        except ValueError:
            receipt = None
        if receipt is None or receipt.status != 1:
            return False
        self.notices.note_applied(tx_hash)
        fills = self.mirror.exchange.fills(receipt.logs)
        if not any(f.order_hash in self.records and f.order_hash in self.book for f in fills):
            return True
        if not await self._notice_fills_stored(fills):
            return True  # (the watcher applies them with their block)
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
            # held ahead of the mirror's verdicts until its block (``Mirror.note_ahead``)
            if len(receipt.block_hash) != 66:
                return True  # (no block said: nothing to hold them until)
            block = (receipt.block_number, receipt.block_hash)
            payers = [(so.order.maker, so.order.maker_token) for so in targets]
            self.mirror.note_ahead(tx_hash, block, [so.hash for so in targets], payers)
        return True

    async def _notice_fills_stored(self, fills: list[FillEvent]) -> bool:
        """A notice's fills stored, before any order they fill is judged (an order closed
        by a peer's notice was committed ``filled`` while its fills waited for the watcher's
        block: a restart in between, or a listing meanwhile, showed a filled order without
        a fill). New ones are published once durable (the watcher's later store of the
        same logs adds none). False if the store failed or took over ``store_wait``
        seconds (the write goes on; the notice's orders are left to the watcher)."""
        rows = list(_stored_fills(fills, ours=False, ours_txs=self.settler.ours))
        stored = self.store.add_fills_async(rows)
        stored.add_done_callback(self._fills_stored)
        self.track_fills(stored)
        done, _ = await asyncio.wait({stored}, timeout=self.store_wait)
        if not done:
            log.warning("a settlement notice's fills not stored within %g s", self.store_wait)
            return False
        return not stored.cancelled() and stored.exception() is None
