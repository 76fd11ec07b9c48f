"""The JSON the node shows: order records with their metadata, submit answers, the
orderbook, stats and chain health."""

from __future__ import annotations

from collections.abc import Container, Iterable
from json.encoder import encode_basestring_ascii as _string
from typing import Any

from sdex.book import BookOrderState, Side
from sdex.chain import FillEvent
from sdex.matching.match import Match, MatchResult
from sdex.node.gone import GoneOrders
from sdex.node.records import NodeState, Record
from sdex.order import ZERO_ADDRESS
from sdex.store import StoredFill, StoredOrder


class NodeViews(NodeState):
    """Read-only JSON views over the node's records, book and parts."""

    _gone: GoneOrders | None = None
    """Orders gone on chain in a block not applied yet, kept out of matching (``NodeBlame``'s
    ``gone_orders``, made at the first; ``sdex.node.gone``)."""

    def meta(self, rec: Record, st: BookOrderState | None = None) -> dict[str, object]:
        """``OrderRegistry.meta`` (``st``: the book's state of it, if just read)."""
        return self.registry.meta(rec, st)

    def record_json(self, order_hash: bytes) -> dict[str, object] | None:
        """The order's record, held in memory or (closed, evicted) read from the store."""
        return self.registry.json_of(order_hash)

    def stored_json(self, s: StoredOrder) -> dict[str, object]:
        """A stored order's record: the live one if it is held in memory."""
        return self.registry.json_of(s.signed.hash, s) or {}

    def _record(self, rec: Record) -> dict[str, object]:
        return self.registry.record_json(rec)

    def _submit_body(
        self, rec: Record, mr: MatchResult | None, meta: dict[str, object] | None = None
    ) -> dict[str, object]:
        """The answer to a wallet's order (``meta``: its ``metaData``, if just made)."""
        if meta is None:
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

    @staticmethod
    def _submit_text(answer: dict[str, object]) -> str:
        """``encode_json(body)`` of ``_submit_body``'s answer to a matched order (every
        wallet order's 201), formatted directly: ~3 us, not the C encoder's ~15 over a
        dict of dicts (http17). Byte-identical (``tests/test_submit_text.py``): the hash
        is 0x-hex, the status and outcome names, the amounts digits, ``createdAt`` a
        finite float (``repr`` is what ``json`` writes), the strings escaped as ``json``
        does."""
        body: Any = answer
        m, matches = body["metaData"], body["matches"]
        return (
            f'{{"orderHash": "{body["orderHash"]}", "status": {_string(body["status"])}, '
            f'"metaData": {{"orderHash": "{m["orderHash"]}", "status": {_string(m["status"])}, '
            f'"filledMakerAmount": "{m["filledMakerAmount"]}", '
            f'"pendingMakerAmount": "{m["pendingMakerAmount"]}", '
            f'"remainingFillableMakerAmount": "{m["remainingFillableMakerAmount"]}", '
            f'"remainingMakerAmount": "{m["remainingMakerAmount"]}", '
            f'"createdAt": {float(m["createdAt"])!r}, "source": {_string(m["source"])}, '
            f'"reason": {_string(m["reason"])}}}, "outcome": {_string(body["outcome"])}, '
            f'"matches": [{", ".join(_match_text(x) for x in matches)}]}}'
        )

    def orderbook(
        self, base: str, quote: str, page: int, per_page: int, viewer: str | None = None
    ) -> dict[str, object]:
        """A page of each side's offered orders (fillable now), in price-time order, and how
        many each side offers, built as dicts in one go: the reference the route's sliced
        pages (``sdex.node.pages.book_page``) are tested byte-identical against. A record is
        built for the page's orders only (review14: a ``BookOrderState`` for every resting
        order cost ~7 us each)."""
        pair = self.book.pair(base, quote)
        first, last = (page - 1) * per_page, page * per_page
        out: dict[str, object] = {}
        for name, side in (("bids", Side.BID), ("asks", Side.ASK)):
            total, records = 0, []
            for e in pair.entries(side):
                if e.parked or e.closed is not None or e.fillable <= 0:
                    continue  # (offers nothing now: ``entry_state``'s fillable is 0)
                if e.taker != ZERO_ADDRESS and e.taker != viewer:
                    continue  # (not for ``viewer`` to take: ``sdex.node.takers``)
                if first <= total < last and e.hash in self.records:
                    meta = self.meta(self.records[e.hash])
                    if (level := e.level) is not None:  # (its level's price, as /v1/depth's)
                        meta["levelPrice"] = f"{level.num}/{level.den}"
                    records.append({"order": e.signed.to_json(), "metaData": meta})
                total += 1
            out[name] = {"total": total, "page": page, "perPage": per_page, "records": records}
        return out

    def stats(self) -> dict[str, object]:
        return {
            "gossip": self.gossip.stats() if self.gossip is not None else None,
            "forwardTiming": self.forwarding.to_json(),
            "orders": self.registry.total,
            "ordersInMemory": len(self.records),
            "ordersEvicted": self.registry.stored_only,
            "evictedLookups": self.registry.lookups,
            "openOrders": self.open_orders,
            "cancelsKept": {  # peers' cancels of orders not held yet (cancel63)
                "kept": len(self.orphan_cancels),
                "dropped": self.orphan_cancels.dropped,
            },
            "settlementsSent": self.settler.sent,
            "matchesSettled": self.settler.settled,
            "matchesFailed": self.settler.failed,
            # not mined, their nonce taken by another (not a withheld one's cancel: settle90)
            "settlementsLost": self.settler.lost,
            # signed, never sent, their nonce taken again: an order of theirs closed since the
            # signature (revert79), or their send held past its bound by a doubt (settle80)
            "settlementsWithheld": self.settler.given_back,
            # signed, not sent (again), a transfer of nothing at their nonce instead (held79)
            "settlementsWithheldCancelled": self.settler.withheld_cancels,
            # sends refused for their nonce and tried again: "too low", the matches signed
            # again at the count (settle28); "too high", the same bytes sent again (settle77)
            "settlementsNonceRefused": self.settler.nonce_refusals,
            # signatures refused (a fee not read or not believed, the chain replaced or in
            # doubt), and why now, logged once a state (settle89)
            "settlementsNotSigned": self.settler.unsigned_log.to_json(),
            "nonceGapFills": self.settler.gap_fills,
            "settlementsInFlightMax": self.settler.most_in_flight,
            "settlementStagesMs": self.settler.stages.mean_ms(),
            "settlementReceiptsWithSend": {  # asked in the send's batch; none: polled
                "asked": self.settler.broadcaster.batched_asks,
                "missed": self.settler.broadcaster.batched_misses,
                "syncSends": self.settler.broadcaster.sync_sends,
                "syncTimeouts": self.settler.broadcaster.sync_timeouts,
            },
            "block": self.watcher.block,
            "chainStateCalls": self.batcher.calls + self.peer_batcher.calls,
            "chainMirror": self.chain_health(),
            "store": self.store.stats(),
        }

    def _shared_reads(self, peers: bool = False) -> dict[str, int]:
        shared = (self.peer_intake if peers else self.intake).shared
        return {"readsAfterWait": shared.reads, "sharedAfterWait": shared.joined}

    def chain_health(self) -> dict[str, object]:
        """The watcher's state and what intake cost the chain (the mirror's hit rate)."""
        w, gone = self.watcher, self._gone
        checked = self.intake.checked + self.peer_intake.checked
        read = self.intake.read + self.peer_intake.read
        reads = self.rpc.calls + self.watch_rpc.calls + self.contract_rpc.calls
        return {
            "status": w.status,
            "problem": w.problem,
            "head": w.chain_head,
            "lag": w.lag,
            "loopLost": round(w.lost, 1),  # (seconds the node's own loop lost: watch89)
            "subscribed": w.subscribed,
            # newHeads announcements the chain contradicted; False: not listened to (sign79)
            "feedLies": w.feed.lies,
            "feedLags": w.feed.lags,
            "feedTrusted": w.feed.trusted(),
            # base fees not signed with: odd or out of EIP-1559's bounds (bounds84)
            "baseFee": self.mirror.announced.to_json(),
            "reorgs": w.reorgs,
            "deepestReorg": w.deepest_reorg,
            "resets": w.resets,
            "identity": self.mirror.doubt.to_json(),  # (matching held while in doubt: gate77)
            "unapplied": w.unapplied.to_json(),  # (signing held while behind: behind77)
            # orders its blocks cancelled or filled, kept out of matching till applied (loop81)
            "keptOut": {"orders": 0, "total": 0} if gone is None else gone.to_json(),
            "ordersChecked": checked,
            "ordersReadFromChain": read,
            "ordersFromMirror": checked - read - self.intake.throttled - self.peer_intake.throttled,
            # orders that needed a read their sender's budget refused (``sdex.node.readbudget``)
            "ordersThrottled": self.intake.throttled + self.peer_intake.throttled,
            # orders whose read the chain did not answer in time, and orders answered unread
            # because their answer came due first (users86: one count, ``late``, held both)
            "ordersReadLate": self.intake.late + self.peer_intake.late,
            "ordersAnswerDue": self.intake.overdue + self.peer_intake.overdue,
            # wallet orders that waited for a replaying mirror (``sdex.node.replayhold``), and
            # the reads those past their wait shared (``sdex.ingest.holds.SharedReads``)
            "replayHold": {**self.replay_hold.to_json(), **self._shared_reads()},
            # ... and peers' copies, in a hold of their own (replay80)
            "peerReplayHold": {**self.peer_replay_hold.to_json(), **self._shared_reads(True)},
            # ... by lane of the node-wide ceiling (``--chain-read-total``) and by cause
            "chainReadLanes": {
                "wallets": self.read_budget.stats(),
                "peers": self.peer_read_budget.stats(),
            },
            "intakeChainCalls": self.batcher.calls + self.peer_batcher.calls,
            # wallet orders taken through the intake with others of their loop turn (http69)
            "walletGroups": {
                "groups": self.wallet_group.groups,
                "orders": self.wallet_group.grouped,
            },
            # peers' copies no wallet took at our block: charged later if still no code
            "unprovenSignatures": self.unproven.to_json(),
            "signatures": {  # ECDSA recoveries: on the worker thread in batches, or alone
                "batches": self.intake.ecdsa.batches + self.peer_intake.ecdsa.batches,
                "handovers": self.intake.ecdsa.handovers + self.peer_intake.ecdsa.handovers,
                "inThreads": self.intake.ecdsa.checked + self.peer_intake.ecdsa.checked,
                "onLoop": self.intake.ecdsa.inline + self.peer_intake.ecdsa.inline,
                # of those, recovered on the loop because no core was spare for the thread
                "crowded": self.intake.ecdsa.crowded + self.peer_intake.ecdsa.crowded,
            },
            "chainCalls": reads.total(),
            "chainCallsByMethod": dict(reads),
            # the settlement's send client (``send_rpc``): sends, receipts asked with them
            "sendChainCalls": self.send_rpc.total_calls,
            "sendChainCallsByMethod": dict(self.send_rpc.calls),
            "mirror": {
                **self.mirror.marks.stats(),  # (orders: in memory; the rest in the store)
                # saved rows found unreadable: those orders judged by the chain (review25)
                "ordersUnknown": len(self.mirror.marks.unknown),
                "accounts": len(self.mirror.funds),
                "makers": len(self.mirror.min_salt),
                "eip1271": self.mirror.sigs.stats(),
            },
        }


def _match_json(m: Match) -> dict[str, object]:
    return {
        "restingOrderHash": m.resting.hash_hex,
        "incomingOrderHash": m.incoming.hash_hex,
        "restingMakerAmount": str(m.amounts.left_filled),
        "incomingMakerAmount": str(m.amounts.right_filled),
        "price": f"{m.price.numerator}/{m.price.denominator}",
    }


def _match_text(m: dict[str, str]) -> str:
    """``encode_json`` of ``_match_json``'s dict: hashes 0x-hex, amounts digits, the price
    two integers and a slash (nothing to escape)."""
    return (
        f'{{"restingOrderHash": "{m["restingOrderHash"]}", '
        f'"incomingOrderHash": "{m["incomingOrderHash"]}", '
        f'"restingMakerAmount": "{m["restingMakerAmount"]}", '
        f'"incomingMakerAmount": "{m["incomingMakerAmount"]}", "price": "{m["price"]}"}}'
    )


def _stored_fills(
    fills: Iterable[FillEvent], ours: bool, ours_txs: Container[str] | None = None
) -> Iterable[StoredFill]:
    for f in fills:
        yield StoredFill.of(f, ours or (ours_txs is not None and f.tx_hash in ours_txs))
