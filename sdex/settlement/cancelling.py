"""The nonce lane's cancels (``sdex.settlement.lane`` builds on it): a settlement past its
bound, or never to be sent (again), replaced at its nonce by a transfer of nothing to the
lane's own address; that transfer, stuck in the pool, signed again at higher fees by the
lane's replacement rules (``sdex.settlement.replace``). Split from ``sdex.settlement.lane``
(settle87: the lane near 500 lines)."""

from __future__ import annotations

import asyncio
import logging

from sdex.chain import SignedTx
from sdex.chain.rpc import quantity
from sdex.settlement.gas import GAP_FILL_GAS
from sdex.settlement.replace import Pooled, bumped
from sdex.settlement.replacing import ReplacingLane

log = logging.getLogger("sdex.settlement")


class CancellingLane(ReplacingLane):
    """The cancels of ``NonceLane``, after the replacements of ``sdex.settlement.replacing``."""

    cancels: dict[str, SignedTx]
    """Of the settlements awaited, those cancelled (``_cancel``): the transfer of nothing at
    its nonce sent again in its place."""
    cancelled = 0
    """Settlements cancelled at their nonce past their bound (``_cancel``)."""
    cancels_repriced = 0
    """Cancels signed again at higher fees, stuck in the pool (``_repriced``)."""
    _cancel_waits: dict[str, Pooled] | None = None
    """Of ``cancels``, each one's transfers and how long the latest has waited (``_repriced``)."""

    def _released(self, signed: SignedTx) -> None:
        """(``signed``'s flight given up on an error, out of ``in_flight``: a live one's,
        ``BatchTx._landing``, or an adopted one's) The rows of ours it superseded at its
        nonce (its signature or its adoption marked them) released, unless another in
        flight still holds it: their waits send their bytes again, or their cancel at their
        bound. restart98 (adopted), review100d (live: ``Settler._settle_or_fail``'s except):
        they stayed superseded, nothing of them sent, the nonce empty if ``signed``'s bytes
        were gone (a pool that lost them), their orders held till a later signature of the
        lane filled the gap."""
        at = {h for h, (_, t) in self.signed_views.items() if t.nonce == signed.nonce}
        at &= self.in_flight
        if at and at <= self.superseded:  # (none of them holds it: each waits on another)
            log.warning("settlement %s given up: %s at its nonce %d sent again",
                        signed.tx_hash, ", ".join(sorted(at)), signed.nonce)  # fmt: skip
            self.superseded -= at

    async def _cancel(self, signed: SignedTx) -> SignedTx:
        """``signed``'s cancel: a transfer of nothing to the lane's own address at its
        nonce, its fees over ``signed``'s (a replacement wherever it is pooled) and never
        under the lane's of now; then the same bytes, signed again only when stuck
        (``_repriced``). Safe at any time: one
        transaction of a nonce lands, and the wait tells which (``poll_receipt``); its
        matches are failed only once this or another took the nonce, never matched again
        while ``signed`` may land (lost78)."""
        got = self.cancels.get(signed.tx_hash)
        if got is None:
            fees = bumped(signed.fees, await self.fees.current(self.receipts))
            got = self.sender.sign_at(
                signed.nonce, self.sender.address, b"", GAP_FILL_GAS, fees=fees
            )
            self.cancels[signed.tx_hash] = got
            self.cancelled += 1
            log.warning(
                "settlement %s not mined, its nonce %d not taken: cancelled by %s",
                signed.tx_hash, signed.nonce, got.tx_hash,
            )  # fmt: skip
            return got
        return await self._repriced(signed, got)

    async def _repriced(self, signed: SignedTx, got: SignedTx) -> SignedTx:
        """``signed``'s cancel ``got`` (sent before), or, stuck (``STUCK_BLOCKS`` blocks seen
        at the checks that send it, ``Pooled.seen``), one signed again at its nonce at fees
        1/8 over it and never under the lane's of now (``bumped``), at most
        ``MAX_REPLACEMENTS`` times: the pool's replacement rule, as a settlement's. Any of
        them landing takes the nonce (the wait tells). settle87: signed once, a cancel under
        a risen base fee (a start's transfer at the start's fees, ``cancels``) sat in the pool
        for ever, and every later settlement of the lane behind it. A read that fails: the
        same bytes (asked again at the next check)."""
        if self._cancel_waits is None:
            self._cancel_waits = {}
        waits = self._cancel_waits = {
            h: w for h, w in self._cancel_waits.items() if self.cancels.get(h) is w.latest
        }  # (those of cancels still awaited, and not signed again elsewhere since)
        pool = waits.setdefault(signed.tx_hash, Pooled([got]))
        try:
            head = quantity(await self.receipts.call("eth_blockNumber"))
            if pool.done or pool.seen(head, asyncio.get_running_loop().time()) != "blocks":
                return got
            fees = bumped(got.fees, await self.fees.current(self.receipts))
        except Exception as e:
            log.warning("cancel %s of settlement %s not re-priced: %s", got.tx_hash,
                        signed.tx_hash, e)  # fmt: skip
            return got
        again = self.sender.sign_at(got.nonce, self.sender.address, b"", GAP_FILL_GAS, fees=fees)
        pool.replaced_by(again)
        self.cancels[signed.tx_hash] = again
        self.cancels_repriced += 1
        log.warning("cancel %s of settlement %s stuck: sent again as %s at fees %s",
                    got.tx_hash, signed.tx_hash, again.tx_hash, fees)  # fmt: skip
        return again
