"""The nonce lane's cancels (``sdex.settlement.lane`` builds on it): a settlement past its
bound, or never to be sent (again), replaced at its nonce by a transfer of nothing to the
lane's own address. Split from ``sdex.settlement.lane`` (settle87: the lane near 500 lines)."""

from __future__ import annotations

import logging

from sdex.chain import SignedTx
from sdex.settlement.gas import GAP_FILL_GAS
from sdex.settlement.replace import bumped
from sdex.settlement.replacing import ReplacingLane

log = logging.getLogger("sdex.settlement")


class CancellingLane(ReplacingLane):
    """The cancels of ``NonceLane``, after the replacements of ``sdex.settlement.replacing``."""

    cancels: dict[str, SignedTx]
    """Of the settlements awaited, those cancelled (``_cancel``): the transfer of nothing at
    its nonce sent again in its place."""
    cancelled = 0
    """Settlements cancelled at their nonce past their bound (``_cancel``)."""

    async def _cancel(self, signed: SignedTx) -> SignedTx:
        """``signed``'s cancel: a transfer of nothing to the lane's own address at its
        nonce, its fees over ``signed``'s (a replacement wherever it is pooled) and never
        under the lane's of now; signed once, then the same bytes. Safe at any time: one
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
