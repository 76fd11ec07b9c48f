"""What gossip asks of the node: cancel notices and proofs, digests, snapshots, fetches,
and settlement notices (checked against the chain's receipt)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from itertools import islice

import aiohttp

from sdex.chain import Receipt
from sdex.errors import ChainError, OrderParseError, SignatureError
from sdex.gossip.hosts import source_group
from sdex.gossip.payload import fits
from sdex.ingest.rules import SIGNATURE_HEX
from sdex.model import OPEN_STATUSES, FillEvent, OrderStatus, field_error_body
from sdex.node.held import hash_of
from sdex.node.records import Record, SubmitResult
from sdex.node.settle import NodeSettlement
from sdex.node.views import _stored_fills
from sdex.order import SignedOrder, parse_hex_bytes

log = logging.getLogger("sdex.node")

FILLED_READ_WAIT = 2.0
"""Seconds the chain's word on peers' soft-cancelled orders is waited for while the mirror
replays the past (``NodePeering._filled_before``): a hung chain holds the cancels no longer."""
FILLED_READS_OFF = 30.0
"""Seconds without those reads after one failed (a page of cancels is not held 2 s a slice)."""

CANCELLED_READ = 200
"""Orders a soft cancel closed whose filled amount one ``getOrderStates`` read asks for."""

TAKE_SLICE = 16
"""Entries a turn of the loop: their recoveries handed over together (32 of them: on a
crowded machine the batcher recovers them on the loop, ~2-5 ms), then the loop turns."""


class NodePeering(NodeSettlement):
    """The node's side of the gossip protocol."""

    filled_reads_off_until = 0.0
    """``time.monotonic()`` before which ``_filled_before`` reads no more (one failed)."""
    cancels_retry = FILLED_READS_OFF
    """Seconds before a failed read of soft-cancelled orders' fills is tried again."""

    def cancel_notice(self, notice: object, peer: str, address: str = "") -> SubmitResult:
        """A soft cancel a peer passed on (from the client ``address``, "" if not known):
        applied only if the maker signed it."""
        try:
            if not isinstance(notice, dict):
                raise SignatureError("a cancel notice is an object")
            order_hash = parse_hex_bytes(notice.get("orderHash"), "orderHash")
            signature = parse_hex_bytes(notice.get("signature"), "signature")
            if len(order_hash) != 32:  # (review64: an unheld one was kept, 64 KB at most)
                raise SignatureError("orderHash must be 0x and 64 hex digits")
        except (OrderParseError, SignatureError) as e:
            if self.gossip is not None:
                self.gossip.penalize(peer)
            return SubmitResult(400, field_error_body("signature", 1005, str(e)))
        result = self.soft_cancel(order_hash, signature, peer, source_group(address))
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
        now = self.chain_time()
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

    async def take_cancelled(self, notice: object, peer: str) -> bool:
        """One entry of a peer's page (``take_cancelled_many``): held (or known) here now?"""
        return (await self.take_cancelled_many([notice], peer))[0] in ("accepted", "known")

    async def take_cancelled_many(self, entries: list[object], peer: str) -> list[str]:
        """A peer's soft-cancelled orders with their makers' signed cancels
        (``cancelled_page``): each held here from now on as ``cancelled``, never booked, so a
        copy posted later is answered as cancelled, as on the nodes that saw the cancel.

        Only what this node would hold (review44: a hostile seed wrote junk rows that were
        stored, listed and served on): its listed tokens, the intake's rules (amounts, expiry
        by the chain's clock, minimums: ``Intake.closed_rules``), both signatures its maker's
        (an EOA's: a contract wallet's order is left to anti-entropy), at most
        ``Limits.max_cancelled_per_peer`` taken from one peer while this process runs. A
        malformed or forged entry, or one the rules say proves bad faith, costs the peer a
        penalty (as a forged order does). An order held already takes the cancel as a notice.

        Signatures are recovered by the peers' ECDSA batcher (its worker thread, off the
        loop), ``TAKE_SLICE`` entries at a time with a turn of the loop between: a 500-entry
        page stalled the loop ~3 recoveries an entry at once. A verdict each:
        ``accepted``, ``known``, ``rejected`` or ``forged``."""
        out: list[str] = []
        genuine: list[tuple[int, SignedOrder, bytes]] = []
        for i in range(0, len(entries), TAKE_SLICE):
            if i:
                await asyncio.sleep(0)  # (other work between slices)
            if self.gossip is not None and self.gossip.peers.is_banned(peer):
                out += ["rejected"] * (len(entries) - i)
                break
            out += await self._check_slice(entries[i : i + TAKE_SLICE], peer, i, genuine)
        # (the chain's fills of the page's genuine ones in one read, not one a slice:
        # review52, 32 reads of up to FILLED_READ_WAIT each a 500-entry page)
        filled = await self._filled_before([so for _, so, _ in genuine])
        for n, (i, signed, sig) in enumerate(genuine):
            if n and not n % TAKE_SLICE:
                await asyncio.sleep(0)
            got = filled[signed.hash]
            out[i] = self._hold(
                signed, sig, peer, self.mirror.filled_of(signed.hash) if got is None else got
            )
            if got is None and out[i] == "accepted" and (rec := self.registry.get(signed.hash)):
                self.cancels_unread[signed.hash] = rec  # (the chain's word, read again later)
                self.cancels_waiting.set()
        return out

    async def _check_slice(
        self,
        entries: list[object],
        peer: str,
        at: int,
        genuine: list[tuple[int, SignedOrder, bytes]],
    ) -> list[str]:
        """The slice's verdicts ("" for the genuine, each added to ``genuine`` with its
        index in the page, from ``at``: held once the page's are all known)."""
        verdicts: list[str] = []
        todo: list[tuple[int, SignedOrder, bytes]] = []
        for j, entry in enumerate(entries):
            v = self._cancelled_entry(entry, peer)
            verdicts.append(v if isinstance(v, str) else "")
            if not isinstance(v, str):
                todo.append((at + j, *v))
        checks = [signed for _, signed, _ in todo]
        checks += [
            SignedOrder(so.order, sig, self.domain.cancel_digest(so.hash)) for _, so, sig in todo
        ]
        oks = [ok async for ok in self.peer_intake.ecdsa.ecdsa_each(checks)]
        n = len(todo)
        for (i, so, sig), order_ok, cancel_ok in zip(todo, oks[:n], oks[n:], strict=True):
            if order_ok and cancel_ok:
                genuine.append((i, so, sig))
            else:
                verdicts[i - at] = "forged"
        if self.gossip is not None and (forged := verdicts.count("forged")):
            self.gossip.penalize(peer, forged)
        return verdicts

    def _cancelled_entry(self, entry: object, peer: str) -> str | tuple[SignedOrder, bytes]:
        """An entry parsed and held to the rules (no signature recovered yet), or its verdict
        (past the peer's share with the page's before it held: ``_hold`` says so then)."""
        try:
            if not isinstance(entry, dict):
                raise SignatureError("a cancelled order is an object")
            order = dict(entry)
            signature = parse_hex_bytes(order.pop("cancelSignature", None), "cancelSignature")
            sig = order.get("signature")
            if isinstance(sig, str) and len(sig) > SIGNATURE_HEX:
                return "rejected"  # (a contract wallet's, too long for this node: no bad faith)
            signed = SignedOrder.from_json(order, self.domain)
        except (OrderParseError, SignatureError, ValueError):
            return "forged"
        if len(signed.signature) != 65:
            return "rejected"  # (a contract wallet's: not judged here)
        if len(signature) != 65:
            return "forged"  # (a soft cancel is an EOA's signature)
        if self.registry.held(signed.hash):
            return signed, signature
        if (bad := self.peer_intake.closed_rules(signed)) is not None:
            return "forged" if bad.code.bad_faith else "rejected"
        if self.cancelled_taken.get(peer, 0) >= self.config.limits.max_cancelled_per_peer:
            return "rejected"  # (its share taken: no recovery spent on more)
        return signed, signature

    async def _filled_before(self, orders: list[SignedOrder]) -> dict[bytes, int | None]:
        """What the chain filled of ``orders`` (new here) before this node heard of them:
        one ``getOrderStates`` read, never less than the mirror's word. Not the mirror's
        word alone, even while it follows the chain: a node that just joined replays the
        chain's past (user50), and one that follows may be a block or two behind (chaos52,
        when a closed order took no fill of a block applied later: a cancel gossiped
        0.04 s after the fill it followed was taken 0 filled; the page said nothing traded
        and the audit flagged the fill as after the node closed it). A read that fails, or
        takes over ``FILLED_READ_WAIT``: the mirror's word, as it stands, and none for
        ``FILLED_READS_OFF`` seconds; those orders' amounts ``None`` (flake60: a late node
        whose read was slow held the mirror's 0 for good), read again by ``_read_cancelled``."""
        mirror = self.mirror.filled_of
        new = [so for so in orders if not self.registry.held(so.hash)]
        out: dict[bytes, int | None] = {so.hash: mirror(so.hash) for so in orders}
        out |= {so.hash: None for so in new}
        if new and time.monotonic() >= self.filled_reads_off_until:
            try:
                async with asyncio.timeout(FILLED_READ_WAIT):  # (not ``wait_for``: 3.11)
                    states = await self.peer_batcher.get_many(new)
                for st in states:
                    out[st.hash] = max(mirror(st.hash), st.filled)
            # (down, hung, odd; review52: a dropped connection, aiohttp's ServerDisconnected,
            # is none of the others: it failed the slice, its cancels not held)
            except (ChainError, ValueError, OSError, TimeoutError, aiohttp.ClientError) as e:
                self.filled_reads_off_until = time.monotonic() + FILLED_READS_OFF
                log.info("soft-cancelled orders taken with the mirror's fills: %r", e)
        return out

    async def _read_cancelled(self) -> None:
        """For ever: the orders a soft cancel closed here (``cancels_unread``), their filled
        amount read from the chain, ``CANCELLED_READ`` at a time (the mirror may be a block
        or two behind the chain when the cancel comes; the watcher gives them the fills of
        the blocks it applies after: ``_closed_follow_chain``). chaos52: a
        node took a peer's cancel 0.01 s after the fill it followed was mined, held the
        order cancelled 0 filled for good, and the audit flagged the fill, mined before the
        node closed the order, as ``fill_after_node_closed``. A fill mined between the
        close and the read counts too (a few milliseconds). A read that fails or takes
        over ``FILLED_READ_WAIT``: those orders keep the mirror's word until it is tried again
        (``_read_again``)."""
        while True:
            await self.cancels_waiting.wait()
            self.cancels_waiting.clear()
            while self.cancels_unread:
                # All taken at once (new ones gather in a fresh dict), read in batches: a
                # batch cut off the dict's front each time copied the rest (quadratic).
                unread, self.cancels_unread = self.cancels_unread, {}
                items = iter(unread.items())
                while batch := dict(islice(items, CANCELLED_READ)):
                    await self._read_cancelled_batch(batch)

    async def _read_cancelled_batch(self, batch: dict[bytes, Record]) -> None:
        """``_read_cancelled``'s one read: ``batch``'s filled amounts from the chain."""
        try:
            async with asyncio.timeout(FILLED_READ_WAIT):
                states = await self.batcher.get_many([r.signed for r in batch.values()])
        # (aiohttp's ServerDisconnected is none of the others: it ended this task)
        except (ChainError, ValueError, OSError, TimeoutError, aiohttp.ClientError) as e:
            log.info("soft-cancelled orders' fills read again in %gs: %r", self.cancels_retry, e)
            self._read_again(batch)
            return
        for st in states:
            rec = batch.get(st.hash)
            if rec is None or rec.status is not OrderStatus.CANCELLED:
                continue
            filled = min(st.filled, rec.signed.order.maker_amount)
            if filled > rec.filled:
                self.registry.correct_filled(rec, filled)

    def _read_again(self, batch: dict[bytes, Record]) -> None:
        """``batch`` (a read failed) back in ``cancels_unread`` after ``cancels_retry``
        seconds, those still held cancelled: at most the orders held, never lost to one
        slow read (flake60)."""

        def again() -> None:
            for h, rec in batch.items():
                if rec.status is OrderStatus.CANCELLED and self.registry.get(h) is rec:
                    self.cancels_unread.setdefault(h, rec)
            self.cancels_waiting.set()

        asyncio.get_running_loop().call_later(self.cancels_retry, again)

    def _hold(self, signed: SignedOrder, signature: bytes, peer: str, filled: int) -> str:
        """``signed`` (both signatures its maker's) held cancelled, ``filled`` as the chain
        has it when taken, or its cancel applied."""
        if self.registry.held(signed.hash):  # (or an earlier entry of the page)
            ok = self.soft_cancel(signed.hash, signature, from_peer=peer).status in (200, 202)
            return "known" if ok else "rejected"
        if signed.order.expiry <= self.chain_time():
            return "rejected"  # (expired meanwhile: nothing to protect)
        taken = self.cancelled_taken.get(peer, 0)
        if taken >= self.config.limits.max_cancelled_per_peer:
            return "rejected"
        self.cancelled_taken[peer] = taken + 1
        self.hold_cancelled(signed, signature, f"peer:{peer}", filled)
        return "accepted"

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
        await self._cancelled_settled(fills)
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

    async def _cancelled_settled(self, fills: list[FillEvent]) -> None:
        """A peer's settlement filled orders a soft cancel closed here: their filled amount
        as the chain has it as of the transaction's block, a block early (the watcher gives
        it with the block: ``_closed_follow_chain``). Set, never added: a transaction named
        again (by a hostile peer, once out of ``NOTICES_KEPT``) counts nothing twice, and no
        amount beyond the chain's is ever taken (cancel62: the fills were added, so a match
        named again counted twice what a later fill allowed, and one made after the cancel
        counted only where a notice came)."""
        recs = []
        for h in dict.fromkeys(f.order_hash for f in fills):
            rec = self.records.get(h)
            if rec is not None and rec.status is OrderStatus.CANCELLED and rec.cancel_signature:
                recs.append(rec)
        if not recs:
            return
        try:
            async with asyncio.timeout(FILLED_READ_WAIT):
                block = fills[0].block_number  # (one transaction's fills: one block)
                states = await self.batcher.get_many_at([r.signed for r in recs], block)
        except (ChainError, ValueError, OSError, TimeoutError, aiohttp.ClientError) as e:
            log.info("a peer's settlement of soft-cancelled orders not read: %r", e)
            return
        for rec, st in zip(recs, states, strict=True):
            filled = min(st.filled, rec.signed.order.maker_amount)
            if rec.status is OrderStatus.CANCELLED and filled > rec.filled:
                self.registry.correct_filled(rec, filled)

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
