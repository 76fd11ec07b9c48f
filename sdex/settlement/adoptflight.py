"""The flights of settlements a previous run left pooled, adopted at the start
(``sdex.settlement.adopt``): awaited as the settler's own, their results reported through its
``on_result``. Split from ``sdex.settlement.settler`` (settle86: at 498 lines)."""

from __future__ import annotations

import asyncio
import logging

from sdex.chain.asend import ChainView
from sdex.chain.tx import SignedTx
from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.settlement.batchtx import BatchTx
from sdex.settlement.outcome import Outcome, SettledMatch
from sdex.settlement.signedout import SignedOut

log = logging.getLogger("sdex.settlement")


class AdoptedFlights(BatchTx):
    """``Settler``'s adopted settlements (``adopt``), after its batches' transactions
    (``sdex.settlement.batchtx``)."""

    mirror: Mirror | None
    signed_out: SignedOut
    signed_views: dict[str, tuple[ChainView | None, SignedTx]]
    _adopted: set[asyncio.Task[None]]
    """Flights of settlements a previous run left pooled (``adopt``): apart from the
    settler's own, so ``idle`` says no match of this run waits nor flies."""
    _to_adopt: list[tuple[SignedTx, list[Match]]]
    """Those adopted before ``run``: their flights start with it (``_start_adopted``)."""
    adopted: int
    """Settlements a previous run left pooled, adopted at the start (``adopt``)."""

    async def _report(self, results: list[SettledMatch]) -> None:
        """(``Settler``'s) ``results`` reported through ``on_result``."""
        raise NotImplementedError

    def _start_adopted(self) -> None:
        """(``run``'s start) The flights of those adopted before it."""
        for signed, batch in self._to_adopt:
            task = asyncio.create_task(self._fly_adopted(signed, batch), name="adopted settlement")
            self._adopted.add(task)
            task.add_done_callback(self._adopted.discard)
        self._to_adopt = []

    def adopt(self, signed: SignedTx, batch: list[Match]) -> None:
        """A settlement a previous run left pooled, ``batch`` its matches, held in flight in
        the book (``sdex.settlement.adopt``): awaited as one of this run's (replaced at
        higher fees if it stays pooled), its results reported through ``on_result``. Its
        flight starts with ``run``, which ends it: a stop before the settler ran leaves none
        running (settle65: it outlived the node's stop), the row ``pending`` for the next
        start. The rows a start in doubt found signed before it at its nonce
        (``replaced_rows``) are awaited with it (doubt81). Those adopted before it at its nonce
        (signed before it: a start's rows in nonce order, then as signed) are ``superseded``,
        as ``BatchTx`` marks them at a signature: their waits send nothing more."""
        # (its nonce among the lane's in flight: review76, a gap below a stuck one was
        # filled over it, a transfer of nothing displacing it; its view the start's, where
        # ``sdex.settlement.reconcile`` found it pooled or sent it again: its wait sends it
        # again there only, ``NonceLane._keep_alive``)
        view = self.signed_views.get(signed.tx_hash, (None, signed))[0] or self.async_sends.viewed()
        own = {t.tx_hash for t in (*self.replaced_rows.get(signed.tx_hash, ()), signed)}
        at = [h for h, (_, t) in self.signed_views.items() if t.nonce == signed.nonce]
        # (the rows adopted before it at its nonce, signed before it: a batch of other pairs
        # whose nonce was given back. held79 at a start, review97d: not marked, the earlier's
        # wait sent its cancel at the nonce over its fees, the later row displaced, failed)
        self.superseded.update(h for h in at if h in self.in_flight and h not in own)
        for tx in (*self.replaced_rows.get(signed.tx_hash, ()), signed):  # (awaited with it)
            self.in_flight.add(tx.tx_hash)
            self.ours.add(tx.tx_hash)
            self.signed_views[tx.tx_hash] = (view, tx)
            self.adopted_into(tx)  # (the lane's next nonce past it: doubt82)
            if self.mirror is not None:
                self.mirror.expect(tx.tx_hash)
        self.signed_out.update((id(m), m) for m in batch)
        self.unsendables[signed.tx_hash] = self._unsendable(batch)  # (settle96: as its own)
        self.adopted += 1
        self._to_adopt.append((signed, batch))

    async def _fly_adopted(self, signed: SignedTx, batch: list[Match]) -> None:
        gas = signed.body[2] if signed.body is not None else 0
        try:
            results = await self._landing(batch, signed, gas, slim=False)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # (a chain outage: given up; if it lands, the watcher applies it)
            log.exception("adopted settlement %s failed", signed.tx_hash)
            self.in_flight.discard(signed.tx_hash)
            self._released(signed)
            self.give_up(signed.tx_hash)
            self.store.set_settlement_status(signed.tx_hash, "dropped")
            why = f"{type(e).__name__}: {e}"
            results = [SettledMatch(m, Outcome.FAILED, None, None, why) for m in batch]
        if results is None:  # (a batch out of gas: judged as failed, its orders matched again)
            why = "out of gas"
            results = [SettledMatch(m, Outcome.FAILED, None, signed.tx_hash, why) for m in batch]
        await self._report(results)
