"""A settlement never sent, found so right before its send (``BatchTx._recheck`` and its
``unsendable``: an order of it cancelled, filled or expiring on chain, or soft-cancelled, or
its send held by a doubt past ``HELD_SEND_MAX``): its nonce given back when it is the lane's
last (``_give_back``), else cancelled at its nonce by a transfer of nothing (``_withheld``;
its wait fails its matches once the nonce is taken). Split from ``sdex.settlement.batchtx``
at its line cap.
"""

from __future__ import annotations

import logging

from sdex.chain.tx import SignedTx
from sdex.settlement.lane import NonceLane

log = logging.getLogger("sdex.settlement")


class WithdrawingLane(NonceLane):
    """The give-backs and cancels right before a send of ``BatchTx`` (its subclass)."""

    given_back = 0
    """Settlements signed and never sent, their nonce taken again (``_recheck``): an order of
    theirs closed (a block) or withdrawn between the signature and the send, or their send
    held by a doubt past ``HELD_SEND_MAX`` (settle80: cancelled at their nonce before)."""
    _unsent_rows: dict[int, list[str]] | None = None
    """The rows of settlements given back unsent (``_give_back``), by nonce: dropped again by
    the next row recorded at their nonce, in its own transaction (``_unsent_at``)."""

    def _give_back(self, signed: SignedTx) -> None:
        """``signed`` (its record durable) is never sent, its nonce given back: its row
        dropped first (the write queued before any row the next signature records), and again
        by the next row recorded at its nonce, in that row's own transaction (``_unsent_at``).
        settle80: dropped only once ``_settle`` woke, behind the next settlement's record at
        the same nonce, a kill between them (or that write refused) left both rows pending,
        and the restart sent the withdrawn bytes again (a paid revert for an order cancelled
        on chain; the next refused "nonce too low", its matches matched again). The drop is
        urgent (review80b: in the group window a kill left the lone row pending, sent again at
        the restart; review81: one refused is written again, ``Store.drop_unsent``)."""
        self.store.drop_unsent(signed.tx_hash)
        if self._unsent_rows is None:
            self._unsent_rows = {}
        self._unsent_rows.setdefault(signed.nonce, []).append(signed.tx_hash)
        self.sender.give_back(signed.nonce)

    def _unsent_at(self, nonce: int) -> list[str]:
        """The rows given back unsent at ``nonce`` (``_give_back``), for the row signed at it
        to drop; those at lower nonces forgotten (a signature past them: their nonce taken,
        their bytes can never land)."""
        rows = self._unsent_rows
        if not rows:
            return []
        self._unsent_rows = {n: hashes for n, hashes in rows.items() if n >= nonce}
        return list(self._unsent_rows.get(nonce, ()))

    def _waits_on(self, nonce: int) -> bool:
        """Whether a settlement in flight at ``nonce`` waits for another transaction to take
        it (``superseded``: its wait sends nothing more). review79b: the one signed over it,
        given back, left the nonce to no one, and its matches waited with no bound."""
        at = (h for h, (_, t) in self.signed_views.items() if t.nonce == nonce)
        return any(h in self.superseded for h in at)

    async def _withheld(self, signed: SignedTx, why: str) -> None:
        """(``_broadcast``'s: ``signed`` never sent, ``why``) Its row dropped (a restart never
        sends it), its cancel sent instead (``_cancel``; later nonces wait on its nonce), and
        again by its wait (``_receipt``), which fails its matches once the nonce is taken,
        counted against neither order (``BatchTx._landing``; held79)."""
        self.withheld[signed.tx_hash] = f"not sent ({why})"  # (counted once its nonce is taken)
        log.warning("settlement %s not sent (%s): cancelled at its nonce", signed.tx_hash, why)
        try:
            await self.store.set_settlement_status(signed.tx_hash, "dropped")
            cancel = await self._cancel(signed)
            if not self.async_sends.doubted():  # (begun meanwhile: the wait sends it after)
                await self.async_sends.rpc.call("eth_sendRawTransaction", cancel.raw)
        except Exception as e:
            log.warning("the cancel of settlement %s not sent: %s", signed.tx_hash, e)
