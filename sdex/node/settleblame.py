"""Settlement failures that chain state read afterwards does not explain: judged on what the
settlement ran against (``sdex.settlement.evidence``, ``sdex.settlement.blame``), with the
node's memory of the makers blamed and of the pairs nobody could be blamed for (contract33)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

import aiohttp

from sdex.book import Entry, RemovalReason
from sdex.chain import OrderState
from sdex.chain.rpc import quantity
from sdex.errors import ChainError, ContractRevert, RpcError
from sdex.matching.match import Match
from sdex.node.chainstate import NodeChainState
from sdex.node.gone import GoneOrders
from sdex.order import SignedOrder
from sdex.settlement import diagnose
from sdex.settlement.blame import Evidence, MakerMemory, PairBar, RefusedPairs, blame
from sdex.settlement.evidence import gather

log = logging.getLogger("sdex.node")
HOSTILE_WHY = " (its maker failed settlements before)"
SHORT_READ_WAIT = 5.0
"""Seconds the read of the orders of matches settled short is waited for (``_read_short``)."""


class NodeBlame(NodeChainState):
    """Blame for unexplained settlement failures, and what is remembered of it."""

    _blamed_makers: MakerMemory | None = None
    _barred_pairs: PairBar | None = None
    _refused_pairs: RefusedPairs | None = None

    async def _read_judged(
        self,
        failed: list[Match],
        orders: list[SignedOrder],
        blameless: AbstractSet[int],
        txs: Mapping[int, str | None],
        pinned: Mapping[int, int],
    ) -> tuple[list[OrderState], dict[int, Evidence | None], int | None]:
        """``_read_failed`` on the settlement's chain thread, or nothing if the read is
        refused (an outage, or an endpoint answering other rows than asked: left63, a
        ``KeyError`` out of ``_diagnose`` ended the settlement's task, the rest of a split
        batch never reported): nothing judged; nobody certain to blame, the pairs are
        counted (as ``_judge_unexplained`` does), matched again by the uncross loop. Nothing
        read, nor judged, in a doubt of the chain's identity (held, or said during the read:
        "latest" may be another chain's; doubt100): released, judged if it fails again, the
        pairs counted (review101: a doubt said at each read, a pair failing each time was
        matched again for ever, no bound)."""
        doubt = self.mirror.doubt
        said = doubt.said_count
        try:
            if not doubt.held:
                got = await self.settle_chain.run(
                    self._read_failed, failed, orders, blameless, txs, pinned
                )
        except (ChainError, OSError, ValueError) as e:
            log.warning("the chain read of %d failed matches was refused: %s", len(failed), e)
            for m in failed:
                self.barred_pairs.note(m.resting.hash, m.incoming.hash)
            return [], {}, None
        if doubt.held or doubt.said_count != said:
            log.warning("%d failed matches not diagnosed: the chain in doubt", len(failed))
            for m in failed:  # (counted: a doubt said at each read matched none for ever)
                self.barred_pairs.note(m.resting.hash, m.incoming.hash)
            return [], {}, None
        return got

    def _read_failed(
        self,
        failed: list[Match],
        orders: list[SignedOrder],
        blameless: AbstractSet[int],
        txs: Mapping[int, str | None],
        pinned: Mapping[int, int] | None = None,
    ) -> tuple[list[OrderState], dict[int, Evidence | None], int | None]:
        """(On the settlement's chain thread) ``orders`` read now, and for each failed match
        that this read does not explain, the evidence of what its settlement ran against
        (``sdex.settlement.evidence``; None: not read, nothing certain): the block its
        transaction met, or the one its pre-flight ran at (``pinned``, by ``id``); and the
        chain's block number read after the orders (None: not read), at or past theirs."""
        ex = self.settle_chain.exchange
        states = ex.order_states(orders)
        try:
            at: int | None = quantity(ex.rpc.call("eth_blockNumber"))
        except (RpcError, OSError, ValueError) as e:
            log.info("the chain's block after a diagnosis's read not read: %s", e)
            at = None
        by_hash = {s.hash: s for s in states}
        by_tx: dict[tuple[str | None, int | None], list[Match]] = {}
        for m in failed:
            vr, vi = diagnose(m, by_hash[m.resting.hash], by_hash[m.incoming.hash])
            if not (vr.guilty or vi.guilty or id(m) in blameless):
                key = (txs.get(id(m)), (pinned or {}).get(id(m)))
                by_tx.setdefault(key, []).append(m)
        evidence: dict[int, Evidence | None] = {}
        for (tx, at), matches in by_tx.items():
            try:
                ev = gather(ex.rpc, ex, tx, matches, self.sender.address, at)
            except (RpcError, ContractRevert, OSError, ValueError, KeyError) as e:
                log.warning("what settlement %s ran against was not read: %s", tx, e)
                ev = None
            evidence.update((id(m), ev) for m in matches)
        return states, evidence, at

    def _judge_unexplained(
        self, m: Match, ev: Evidence | None, refused: SignedOrder | None = None
    ) -> tuple[SignedOrder, ...]:
        """The orders of ``m`` to blame for a failure that chain state read afterwards does
        not explain: ``refused`` (the order the pre-flight's own signature check refused:
        review33) if given, else the evidence's (``sdex.settlement.blame``); their makers
        remembered. Nobody certain: the pair is counted, and barred from matching again
        past ``PAIR_TRIES``."""
        blamed = (refused,) if refused is not None else blame(m, ev)
        for so in blamed:
            score = self.blamed_makers.note(so.order.maker)
            log.warning(
                "settlement of %s vs %s failed: blamed on %s (maker %s, blamed %.1f)",
                m.resting.hash_hex, m.incoming.hash_hex, so.hash_hex, so.order.maker, score,
            )  # fmt: skip
        if not blamed and self.barred_pairs.note(m.resting.hash, m.incoming.hash):
            log.warning(
                "settlement of %s vs %s failed again with nobody certain to blame: the pair "
                "is not matched again for %.0f s",
                m.resting.hash_hex, m.incoming.hash_hex, self.barred_pairs.seconds,
            )  # fmt: skip
        return blamed

    @property
    def blamed_makers(self) -> MakerMemory:
        """Makers blamed for failed settlements (contract33: a hostile wallet's every new
        order had three tries again)."""
        if self._blamed_makers is None:
            self._blamed_makers = MakerMemory()
        return self._blamed_makers

    @property
    def barred_pairs(self) -> PairBar:
        """Pairs that failed with nobody certain to blame (``may_match`` skips barred ones)."""
        if self._barred_pairs is None:
            self._barred_pairs = PairBar()
        return self._barred_pairs

    @property
    def refused_pairs(self) -> RefusedPairs:
        """Pairs whose amounts the contract refused (``ZeroFillAmount``): not matched again
        while both orders' filled amounts are the same (``may_match``)."""
        if self._refused_pairs is None:
            self._refused_pairs = RefusedPairs()
        return self._refused_pairs

    def _note_refused(self, m: Match) -> None:
        """``m``'s pair refused for its amounts: barred at the book's filled amounts now."""
        find = self.book.find
        left, right = find(m.resting.hash), find(m.incoming.hash)
        if left is None or right is None:
            return
        self.refused_pairs.note(left.hash, left.filled, right.hash, right.filled)
        log.warning(
            "settlement of %s vs %s refused for its amounts: the pair is not matched again "
            "until either order's filled amount changes",
            m.resting.hash_hex, m.incoming.hash_hex,
        )  # fmt: skip

    async def _read_short(self, short: list[Match]) -> None:
        """The orders of matches settled short (``_settled_short``) read from the chain, one
        call for all, within ``SHORT_READ_WAIT``: one of each pair ran out on chain, yet the
        book offers its shortfall to any other order (revert75, chaos52 seed 22: an ask
        taken in part elsewhere in the block of a node's settlement of it, the rest matched
        against another bid 17 ms later, skipped ``OrderNotFillable``). Each takes the chain's
        filled amount where more than the book's, nothing of it in flight
        (``_filled_beyond``); a failed read leaves them to their blocks (the pair stays
        barred)."""
        orders = list({so.hash: so for m in short for so in (m.resting, m.incoming)}.values())
        try:
            async with asyncio.timeout(SHORT_READ_WAIT):
                states = await self.batcher.get_many(orders)
        except (ChainError, ValueError, OSError, TimeoutError, aiohttp.ClientError) as e:
            log.info("orders of %d matches settled short not read: %r", len(short), e)
            return
        at: int | None = None  # (the chain's block after the read: at or past its own)
        try:
            async with asyncio.timeout(SHORT_READ_WAIT):
                at = quantity(await self.rpc.call("eth_blockNumber"))
        except (ChainError, ValueError, OSError, TimeoutError, aiohttp.ClientError) as e:
            log.info("the chain's block after a short settlement's read not read: %r", e)
        by_hash = {s.hash: s for s in states}
        for m in short:
            for so in (m.resting, m.incoming):
                state = by_hash.get(so.hash)
                if state is not None and so.hash in self.book:
                    self._filled_beyond(m, so, min(state.filled, so.order.maker_amount), at)

    def _settled_short(self, m: Match) -> None:
        """``m`` settled for less than proposed (``_confirm``): the chain had less left of one
        of its orders than the book (a fill made elsewhere, its block not applied yet), and
        that rest bound the fill: all of the resting order, or a rest of the incoming one
        that buys not one more unit at the resting price. So the pair cannot trade again,
        though the confirm gave the shortfall back to both: barred at the book's filled
        amounts until either moves (that fill's block, or the chain's word read), as a pair
        refused for its amounts; both looked at again (``_recheck_settled``). revert75
        (chaos52 seeds 16-22): matched again at once, signed while the first was still on
        its way, reverted ``OrderNotFillable`` or ``ZeroFillAmount``."""
        self._recheck.add(m.resting.hash)  # (recheck75: each add written for a kill)
        self._recheck.add(m.incoming.hash)
        find = self.book.find
        left, right = find(m.resting.hash), find(m.incoming.hash)
        if left is not None and right is not None:
            self.refused_pairs.note(left.hash, left.filled, right.hash, right.filled)

    def _closed_by_chain(
        self, so: SignedOrder, reason: RemovalReason, filled: int, at: int | None = None
    ) -> None:
        """``so``, of a failed match, closed by the chain (cancelled, expired...;
        ``_diagnose``): removed with the chain's ``filled``, taken now if nothing of it is
        in flight, else once none is (``_recheck_settled``). chaos62: closed at the book's
        amount while another match of it was in flight, short of fills made elsewhere, it
        kept that amount for good (``expired`` at 0.095, the chain 0.4999 filled). The
        chain's word is bounded by the order's amount, as for ``FILLED`` (left63: a lying
        endpoint's 10 ETH of a 0.1 ETH ask was shown, remaining -9.9)."""
        filled = min(filled, so.order.maker_amount)
        self._remove(so.hash, reason, "settlement failed: " + reason.value, filled)
        self._closed_past(so.hash, at)  # (read at block ``at``: the mirror's word waits)
        self._recheck.add(so.hash)

    def _filled_beyond(self, m: Match, so: SignedOrder, filled: int, at: int | None) -> None:
        """``so``, of the failed match ``m``, has ``filled`` on chain (``_diagnose``; read at
        block ``at``, None: not known): where that is beyond the book's, the book takes it,
        if nothing of ``so`` is in flight. Else
        (the chain's amount may count a match in flight) ``so`` is looked at again once none
        is (``_recheck_settled``), and ``m``'s pair is not matched again meanwhile at these
        amounts. chaos62: the other side, matched again at once at the stale amount, kept
        a match of ``so`` in flight at each failure's diagnosis; two such pairs failed in
        turn, 3,585 reverted settlements and a block each, until ``so`` expired. Either
        way the mirror's word on ``so`` waits till its head is at ``at`` (``_closed_past``;
        revert78: a recheck at the node's own block gave back a fill the read, a block
        later, had applied)."""
        st = self.book.get(so.hash)
        if st is None or filled <= st.filled:
            return
        self._closed_past(so.hash, at)  # (the chain's word at ``at``: the mirror's waits)
        if st.pending == 0:
            self._filled_elsewhere(so, filled)
            return
        self._recheck.add(so.hash)
        self._note_refused(m)

    @property
    def gone_orders(self) -> GoneOrders:
        """The orders a settlement found gone on chain in a block not applied yet, kept out
        of re-matching (``sdex.node.gone``; loop80)."""
        if self._gone is None:
            self._gone = GoneOrders(
                self.gone_on_chain,
                lambda h: self.book.find(h) is not None,
                applied=lambda: self.watcher.unapplied.applied,  # (the block the book is at)
            )
        return self._gone

    def _keep_out_gone(self, matches: list[Match]) -> None:
        """(``matches`` given back unsent) Their orders the mirror has gone on chain, the
        book still offering them (the block not applied yet), kept out of re-matching: the
        other side was matched against one again at once, withdrawn again, hundreds of times
        a second until the block applied (loop80)."""
        gone = self.gone_orders  # (those let go: looked for as they double, ``add``)
        for m in matches:
            for so in (m.resting, m.incoming):
                gone.add(so)

    def may_match(self, resting: Entry, incoming: Entry) -> bool:
        """``NodeIntake.may_match``, and never a pair barred by ``barred_pairs``, nor one of
        an order gone on chain in a block not applied yet (``gone_orders``)."""
        gone = self._gone
        if gone is not None and gone.orders and (gone.out(resting.hash) or gone.out(incoming.hash)):
            return False
        pairs = self._barred_pairs
        if pairs is not None and pairs.barred(resting.hash, incoming.hash):
            return False
        refused = self._refused_pairs
        if refused is not None and refused.barred(
            resting.hash, resting.filled, incoming.hash, incoming.filled
        ):
            return False
        return super().may_match(resting, incoming)
