"""One batch's transaction, from its calldata to what its receipt says of each match
(``Settler`` forms the batches and reports the results).

Every transaction is signed, *recorded in the database*, then broadcast, so a node killed
mid-flight reconciles it from its receipt at restart and never sends it twice. Signing (on
the event loop, ~0.1 ms) and recording are one at a time, in nonce order; each broadcast
goes on the event loop through the async client once its record is durable, one at a time in
nonce order (``NonceLane.broadcast_after``; no worker thread, no ``requests``), each with
its receipt in the same round trip when the chain can give it
(``sdex.settlement.broadcast``; else polled, or read from its block's receipts); the fills
of a receipt in hand are decoded and queued on the store there, at once. Up to
``max_in_flight`` batches are out and not yet processed. No fill counts before its receipt.
A match that fails (pre-flight revert, ``MatchSkipped``, failed transaction, a transaction
lost) is diagnosed from chain state: the guilty order is shrunk or removed and the innocent
one goes back to be matched again; the other matches of the batch, and other batches, are
not touched (a batch whose record the store refused never left: its matches go back
undiagnosed). One left pooled unmined goes again at higher fees (``sdex.settlement.replace``);
a lost one that later ones wait on has its nonce filled by a transfer of nothing (not while
pooled). A send refused "nonce too low" can never land (another sender of the operator's
key used its nonce, e.g. a devnet deployed again under the node): its matches are signed
again (``NONCE_TRIES``) at the chain's count, read once every broadcast of the lane under way
has ended, so no nonce goes out twice. One refused "nonce too high" may still land (taken by
another backend behind a balancer): it is sent again as signed, the nonces below it filled
first (``NonceLane._over_gap``), its matches never signed again at another nonce; refused
so at every try it is kept (``NonceLane.kept``): lost only once its nonce is taken.

A lone match whose orders failed a settlement before with no one found guilty, or a
contract maker's, is pre-flighted first (``suspect``: ``_preflight``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sdex.chain import Receipt
from sdex.chain.aio import NotDone
from sdex.chain.apart import apart
from sdex.chain.arpc import AsyncRpc
from sdex.chain.asend import ChainReplaced, ChainUnproven
from sdex.chain.rpc import quantity
from sdex.chain.tx import SignedTx, lone_tx_root, nonce_refusal, ran_out_of_gas
from sdex.errors import ContractRevert, RpcError
from sdex.matching.match import Match
from sdex.settlement.confirm import gas_believed
from sdex.settlement.gas import BatchGas
from sdex.settlement.outcome import (
    Outcome,
    SettledMatch,
    outcome,
    refused_order,
    unaccounted,
    unsent,
)
from sdex.settlement.receipts import APART_WAIT
from sdex.settlement.signedout import SignedOut
from sdex.settlement.signing import HELD_SEND_MAX, NOT_ITS_CHAIN, NotSigned, Unsendable
from sdex.settlement.stages import FlightTimes
from sdex.settlement.take import Held, Unpaid, Withdrawer, Withdrawn, still, withdrawn_from
from sdex.settlement.unsignedlog import UnsignedLog
from sdex.settlement.withdrawal import WithdrawingLane
from sdex.store import StoredFill, own_fill

log = logging.getLogger("sdex.settlement")

NONCE_TRIES = 4
"""Sends of one batch the chain may refuse for their nonce before its matches count lost."""
GAS_READS = 4
"""Reads of mined batches' gas (``gas_believed``) under way at most (``_learn_gas``)."""
WITHHELD_WHY = "an order of it was cancelled, expired or filled on chain before its send"
"""Why a settlement signed and not sent yet is cancelled at its nonce instead (held79: a soft
cancel acknowledged while its send was held in a doubt, the match was sent once it ended)."""


class BatchTx(WithdrawingLane):
    """A batch's transaction through the nonce lane (``Settler`` builds these parts)."""

    gas: BatchGas
    suspect: Callable[[Match], bool] | None
    withdrawn: Withdrawer | None
    unpaid: Unpaid | None
    held: Held | None
    signed_out: SignedOut
    _unsigned: dict[int, tuple[Match, float]]
    fills_stored: dict[str, tuple[list[StoredFill], Future[list[StoredFill]]]]
    _gas_reads: set[asyncio.Task[None]]
    """Reads of a mined batch's gas under way (``_learn_gas``)."""
    _refused_at: float
    unsigned_log: UnsignedLog
    sent: int
    lost: int
    refused: int
    nonce_refusals: int
    most_in_flight: int

    def _unsendable(self, batch: list[Match]) -> Unsendable:
        """Why the bytes of ``batch``'s settlement, held ``held`` seconds in a doubt, must
        not be sent (again, nor re-priced: ``ReplacingLane._replace``), "" if they may
        (held79: asked again right before its send)."""

        def unsendable(held: float) -> str:
            if held > HELD_SEND_MAX:
                return f"held {held:.0f} s while the chain's identity was in doubt"
            out = self.withdrawn(batch) if self.withdrawn is not None else {}
            return f"{WITHHELD_WHY} ({len(out)} of {len(batch)} matches)" if out else ""

        return unsendable

    async def _sign_and_queue(
        self, batch: list[Match], data: bytes, gas: int, times: FlightTimes | None
    ) -> tuple[SignedTx, int | None, asyncio.Future[Receipt | None]]:
        """(``_send_lock`` held) Sign ``batch``'s transaction, queue its record on the store
        and its broadcast after it: the signed transaction, the mirror's head count before,
        and the broadcast's future."""
        ex = self.chain.exchange

        def check() -> None:
            still(batch, self.withdrawn, self.unpaid, self.held)

        signed = await self._sign_next(ex.address, data, gas, check)
        unsendable = self.unsendables[signed.tx_hash] = self._unsendable(batch)  # (_over_gap's)
        # (a nonce the chain's count gave back, a send refused not for its nonce: held79)
        at = [h for h, (_, t) in self.signed_views.items() if t.nonce == signed.nonce]
        self.superseded.update(h for h in at if h in self.in_flight)
        for m in batch:
            self._unsigned.pop(id(m), None)
        self.signed_out.update((id(m), m) for m in batch)
        if times is not None:
            times.signed = time.perf_counter()
        # Queued on the store's writer (urgent: no group window); once durable, the
        # broadcast goes, after every one queued before it (nonce order).
        recorded = self.store.add_settlement(
            signed.tx_hash,
            signed.nonce,
            signed.raw,
            [(m.resting.hash_hex, m.incoming.hash_hex) for m in batch],
            self._unsent_at(signed.nonce),
        )
        self.in_flight.add(signed.tx_hash)
        self.most_in_flight = max(self.most_in_flight, len(self.in_flight))
        self.ours.add(signed.tx_hash)
        self.sent += 1
        if self.mirror is not None:
            self.mirror.expect(signed.tx_hash)
        heads = self.mirror.announced.count if self.mirror is not None else None

        async def recheck(held: float) -> None:
            await self._recheck(batch, signed, held)

        # (in nonce order)
        sending = self.broadcast_after(recorded, signed, times, unsendable, recheck)
        self.sending(sending)
        return signed, heads, sending

    async def _recheck(self, batch: list[Match], signed: SignedTx, held: float) -> None:
        """(Right before ``signed``'s send, its record durable; a doubt held it ``held``
        seconds) ``presend`` awaited for a lone
        match (its revert costs the whole transaction; a batch's closed match is skipped,
        a few thousand gas, while under load every send would wait a round trip and the
        watcher: docs/BENCHMARKS.md "revert79"), then
        ``batch``'s matches judged again (``withdrawn``: an order cancelled, filled whole or
        expiring, on chain or by its maker's soft cancel): if one is gone and ``signed`` is
        the lane's last (its nonce given back: taken again by the next signature,
        ``_give_back``), raise ``Withdrawn``: never sent (``_settle``), the others signed
        again. revert79: a block
        mined between the book's last look and the send (a cancel, another's fill) was
        seen by no hold, and the settlement reverted, the operator paying. One that is not
        the lane's last (a later one signed behind it) goes as signed, and one whose nonce a
        settlement in flight waits on (``_waits_on``) is cancelled there (``unsendable``).
        So is one held past ``HELD_SEND_MAX`` (held79) unless it is the lane's last, in the
        view it was signed in: given back as well, every match of it signed again (settle80:
        cancelled, a transfer of nothing paid where giving its nonce back cost nothing)."""
        stale = held > HELD_SEND_MAX
        if self.presend is None and not stale:  # (no watcher: nothing learned since)
            return
        if len(batch) == 1 and self.presend is not None:  # (a lone ``matchOrders`` reverts
            await self.presend()  # whole: a batch only skips it)
        if self.sender.next_nonce != signed.nonce + 1:  # (no await since: still as looked)
            return
        if self._waits_on(signed.nonce):  # (its nonce must be taken: ``unsendable`` cancels)
            return
        kept, gone = withdrawn_from(batch, self.withdrawn)
        view = self.signed_views.get(signed.tx_hash, (None,))[0]
        if gone or (stale and view == self.async_sends.viewed()):  # (else ``_same_chain``)
            if stale:
                log.warning("settlement %s held %.0f s in a doubt: not sent, its nonce %d"
                            " given back", signed.tx_hash, held, signed.nonce)  # fmt: skip
            self._give_back(signed)
            raise Withdrawn(kept, gone, [])

    async def chain_knows(self, signed: SignedTx) -> bool:
        """Whether the chain holds ``signed`` (pooled or mined), or may. A send answered
        "nonce too low" may be the node's own transaction whose bytes reached the chain twice
        (a proxy that retried it, a second send after a failed sync send): its nonce is used
        by itself. Not held only when one answer (one request: one backend behind a
        balancer) says the sender's count is past its nonce and the hash unknown: a backend
        that lags the one that refused the send, not yet at the block where ours landed,
        answers null too (review30: the batch was signed again, its matches sent twice);
        and a second such answer, on a connection of its own (``apart``; settle90), says it
        again (doubt78: one lied or flapped answer had the matches signed again at the next
        nonce while the first bytes were mined, the second a paid revert). True too when an
        ask fails: unknown, so not signed again (review28)."""
        asks: list[tuple[str, list[Any]]] = [
            ("eth_getTransactionByHash", [signed.tx_hash]),
            ("eth_getTransactionCount", [self.sender.address, "latest"]),
        ]

        async def held(rpc: AsyncRpc) -> bool:
            found, count = await rpc.batch(asks)
            return found is not None or quantity(count) <= signed.nonce

        try:  # (the second on a connection of its own: settle90, a sticky balancer's one
            # backend answered both through the pooled client)
            return await held(self.receipts) or await apart(self.receipts, held, APART_WAIT)
        except Exception:
            return True

    def _never_sent(self, signed: SignedTx) -> None:
        """``signed`` never reached the chain (its record refused, or the chain refused it):
        not in flight, not ours, not sent."""
        self.in_flight.discard(signed.tx_hash)
        self.ours.discard(signed.tx_hash)
        self.sent -= 1
        if self.mirror is not None:
            self.mirror.unexpect(signed.tx_hash)

    def _not_ahead(self, batch: list[Match]) -> None:
        """``batch``'s signature will never pay (refused for its nonce, or reverted whole out
        of gas): its matches out of ``signed_out`` before they are signed again. Left in,
        each next signature's funds check counted them ahead of themselves, and a maker who
        can pay hers once was found short, her matches withdrawn (review69a)."""
        for m in batch:
            self.signed_out.pop(id(m), None)

    def _unsigned_again(self, batch: list[Match]) -> None:
        """``batch``'s signature will never pay (``_not_ahead``): unsigned again until signed
        again (``Settler.unsigned``: a diagnosis that finds an order of one at fault
        meanwhile withdraws it; review72: in neither, it was signed after)."""
        now = time.perf_counter()
        self._unsigned.update((id(m), (m, now)) for m in batch)

    async def _preflight(
        self, batch: list[Match], data: bytes, gas: int
    ) -> list[SettledMatch] | None:
        """A suspect lone match's ``eth_call`` with the gas it is sent with (``suspect``):
        None if it passed, else its results, nothing sent (reverted: failed, diagnosed like
        a skipped match; not answered: given back unsent, the next batch after a pause)."""
        ex = self.chain.exchange
        at: int | None = None  # (the block it runs at: its evidence is read there)
        try:  # before the lane's lock: it waits for no broadcast under way
            fees = await self.fees.current(self.receipts)  # (those it is signed with)
            at = quantity(await self.receipts.call("eth_blockNumber"))
            await self.async_sends.preflight(ex.address, data, gas, fees, hex(at))
        except ContractRevert as e:  # nothing sent: diagnosed like a skipped match
            err = ex.decoder.decode(e)
            named = refused_order(err)  # (the order its check refused, if it says)
            return [SettledMatch(m, Outcome.FAILED, None, None, str(err), refused=named,
                                 block=at) for m in batch]  # fmt: skip
        except (RpcError, OSError, TimeoutError, ValueError) as e:
            if isinstance(e, RpcError) and ran_out_of_gas(e):  # (geth: no revert data)
                why = str(e)
                return [SettledMatch(m, Outcome.FAILED, None, None, why, block=at)
                        for m in batch]  # fmt: skip
            # the node's trouble, not the order's (review32: diagnosed as failed with no
            # one guilty, an honest contract maker's order went after three): given
            # back, the next batch after a pause
            log.warning("pre-flight of a suspect match not answered: %s", e)
            self._refused_at = time.perf_counter()
            return unsent(batch, f"pre-flight not answered: {e}")
        return None

    async def _settle(
        self, batch: list[Match], times: FlightTimes | None, room: bool = False
    ) -> list[SettledMatch] | None:
        """What the chain did with ``batch``'s matches; None if it was a backlog batch that
        ran out of gas (mined, reverted whole: its matches go again with the fallback's room)."""
        ex = self.chain.exchange
        matches = [(m.resting, m.incoming, m.amounts.left_filled) for m in batch]
        # A lone match goes as ``matchOrders`` (less gas and chain time than a batch of
        # one), with no pre-flight either: one that fails reverts, mined all the same (its
        # nonce used), and its receipt's status says so; the match is then diagnosed from
        # chain state like one a batch skipped.
        lone = len(batch) == 1
        data = ex.encode_settlement(matches) if lone else ex.encode_batch(matches)
        gas, slim = self.gas.limit(len(batch), lone, room)
        if lone and self.suspect is not None and self.suspect(batch[0]):
            gas = self.gas.limit(1, False)[0]
            stopped = await self._preflight(batch, data, gas)
            if stopped is not None:  # (it reverted, or was not answered: nothing sent)
                return stopped
        again: SignedTx | None = None  # (refused "too high": sent again as signed)
        for attempt in range(1, NONCE_TRIES + 1):
            if again is not None:  # (the nonces below it filled first: ``_over_gap``)
                sending = await self._over_gap(again, times)
            else:
                async with self._send_lock:  # nonce order: sign, record, queue the broadcast
                    if attempt > 1:  # refused "too low": signed again at the chain's count
                        self.sender.forget_nonce()
                    try:
                        signed, heads, sending = await self._sign_and_queue(batch, data, gas, times)
                    except (ChainReplaced, ChainUnproven, NotSigned) as e:  # (``_count``)
                        self.unsigned_log.refused(len(batch), e)  # (once a state: settle89)
                        self._refused_at = time.perf_counter()
                        return unsent(batch, str(e))
                    self.unsigned_log.signed()
            again = None
            suspect = False
            early: Receipt | None = None
            nonce_taken = False
            try:
                early = await sending
            except Withdrawn as w:  # (given back at its recheck: never sent, its row dropped)
                log.warning(
                    "settlement %s not sent: %d of its matches withdrawn since its signature",
                    signed.tx_hash, len(w.gone),
                )  # fmt: skip
                self._never_sent(signed)
                self._not_ahead(batch)
                self._unsigned_again(w.kept)
                self.signed_views.pop(signed.tx_hash, None)
                self.given_back += 1
                raise
            except NotDone as e:  # not recorded, never broadcast: the matches go back
                log.error("settlement %s could not be recorded: %s", signed.tx_hash, e)
                self._never_sent(signed)
                self.sender.give_back(signed.nonce)
                self.refused += 1
                self._refused_at = time.perf_counter()
                return unsent(batch, str(e))
            except Exception as e:  # unknown whether the node took it: its receipt will say
                said = nonce_refusal(e)  # ("low", "high": the chain's refusal for its nonce)
                refused = said is not None
                if said == "high" and attempt < NONCE_TRIES:
                    # Not taken by the backend that answered (the lane's nonce past its
                    # count: blocks of its settlements undone before the watcher saw it;
                    # nonce75), or by a backend that lags the one that took it, behind a
                    # balancer that sent it there again: these bytes may land. Sent again
                    # as they are, the nonces below them filled first; never its matches
                    # signed again (settle77: nonce75 did so, both were mined).
                    log.warning(
                        "settlement %s refused for its nonce %d (%s): sent again",
                        signed.tx_hash, signed.nonce, e,
                    )  # fmt: skip
                    self.nonce_refusals += 1
                    again = signed
                    continue
                if said == "low" and attempt < NONCE_TRIES and not await self.chain_knows(signed):
                    # The chain refused it and does not hold it (its answer "too low" to a
                    # second copy of a landed one is the same: review28): its nonce is used
                    # (another sender of this key, e.g. a devnet deployed again under the
                    # node), so it can never land. The same matches are signed again, once
                    # every send of ours under way ended, at the chain's count
                    # (``_sign_next``), judged again first.
                    log.warning(
                        "settlement %s refused for its nonce %d (%s): signed again",
                        signed.tx_hash, signed.nonce, e,
                    )  # fmt: skip
                    self._never_sent(signed)
                    self._not_ahead(batch)
                    self._unsigned_again(batch)
                    self.store.set_settlement_status(signed.tx_hash, "dropped")
                    self.nonce_refusals += 1
                    continue
                log.warning("broadcasting %s failed: %s", signed.tx_hash, e)
                self.fees.forget()
                suspect, nonce_taken = True, refused
                if said == "high":  # (at every try: these bytes may land all the same)
                    self.kept.add(signed.tx_hash)
            break
        if times is not None:
            times.resolve()  # the broadcast is over (or its fate unknown): the next may form
        return await self._landing(
            batch, signed, gas, slim, suspect, heads, early, nonce_taken, times
        )

    def _learn_gas(self, matches: int, receipt: Receipt, raw: str) -> None:
        """(``_landing``'s: a mined batch of ``matches``, each settled) ``receipt``'s gas
        learned (``BatchGas.learn``) if it would raise the figure, once its block's header
        gives it too (``gas_believed``; confirm97), in a task of its own: at most
        ``GAS_READS`` under way (one more is not learned), each bounded (``CONFIRM_WAIT``),
        cancelled at the stop (``Settler.run``). gas97 (review97b): it was awaited in
        ``_landing`` between ``unexpect`` and ``note_receipt``, and on a backend that held
        the read the batch's result waited 10 s, its block's fills applied meanwhile by the
        watcher as no settlement's the mirror expected."""
        if not self.gas.teaches(matches, receipt.gas_used):
            return
        if len(self._gas_reads) >= GAS_READS:
            log.debug("the gas of %s not read again: %d reads under way", receipt.tx_hash,
                      len(self._gas_reads))  # fmt: skip
            return

        async def read() -> None:
            if await gas_believed(self.receipts, receipt, raw, self.mirror):
                self.gas.learn(matches, receipt.gas_used)

        task = asyncio.create_task(read(), name="settlement gas read")
        self._gas_reads.add(task)
        task.add_done_callback(self._gas_read)

    def _gas_read(self, task: asyncio.Task[None]) -> None:
        """A read of a receipt's gas ended (``_learn_gas``)."""
        self._gas_reads.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        """(``Settler``'s: ``idle`` set once nothing waits, flies, nor reads its gas)"""

    async def _gas_learned(self) -> None:
        """The reads of receipts' gas under way ended (each bounded: ``CONFIRM_WAIT``): a
        backlog's next part is sized after what they teach (``Settler._fly``)."""
        if self._gas_reads:
            await asyncio.wait(set(self._gas_reads))

    async def _landing(
        self,
        batch: list[Match],
        signed: SignedTx,
        gas: int,
        slim: bool,
        suspect: bool = False,
        heads: int | None = None,
        early: Receipt | None = None,
        nonce_taken: bool = False,
        times: FlightTimes | None = None,
    ) -> list[SettledMatch] | None:
        """(``_settle``'s, once ``signed`` is broadcast; an adopted one's: ``Settler.adopt``)
        What ``signed``'s receipt says of ``batch``'s matches, awaited (replaced at higher
        fees if it stays pooled; lost: given up, its nonce filled); None as ``_settle``. Lost
        only once its nonce is taken, its bytes sent again meanwhile (``NonceLane._receipt``;
        reconcile77: one refused "nonce too high" at every try was counted lost after its
        last try, its matches matched again while the bytes could still land; lost78: so was
        one the chain asked did not know, twice half a second apart)."""
        self.kept.discard(signed.tx_hash)
        first = signed.tx_hash
        try:
            whole = functools.partial(unaccounted, self.chain.exchange, batch)
            signed, receipt = await self._receipt(signed, suspect, heads, early, whole)
            if times is not None:
                times.receipt = time.perf_counter()
        except Exception:  # (given up: the rows it superseded at its nonce go again, review100d)
            self.in_flight.discard(signed.tx_hash)
            self._released(signed)
            raise
        finally:
            self.in_flight.discard(signed.tx_hash)
            if self.mirror is not None:
                self.mirror.unexpect(signed.tx_hash)
        withheld = self.withheld.pop(first, "")  # (``_withheld``, ``_keep_alive``: adopt79)
        if receipt is None:
            displaced = signed.tx_hash in self.displaced  # (before an await: forget_final)
            # (a withheld one's cancel took its nonce: the node's doing, no loss; counted in
            # ``withheld_cancels`` alone: settle90, it was counted in both)
            self.lost += not (withheld and not displaced)
            self.give_up(signed.tx_hash)
            self.store.set_settlement_status(signed.tx_hash, "dropped")
            log.warning("settlement %s lost (nonce %d): re-judging", signed.tx_hash, signed.nonce)
            await self._heal_gap(signed)
            why = "transaction lost" + (": refused for its nonce at every try" * nonce_taken)
            if withheld:  # (never sent, its cancel took the nonce: the node's doing; held79)
                why, nonce_taken = f"{withheld}: cancelled at its nonce", True
                self.withheld_cancels += not displaced  # (settle83: not at the cancel's send)
            if displaced:  # (the node's doing; settle77: counted against both orders)
                why, nonce_taken = f"transaction lost: displaced ({NOT_ITS_CHAIN})", True
            cancelled = bool(withheld) and not displaced  # (counted there, not failed)
            return [
                SettledMatch(m, Outcome.FAILED, None, signed.tx_hash, why,
                             nonce_taken=nonce_taken, withheld=cancelled)
                for m in batch
            ]  # fmt: skip
        again = self.gas.ran_out(len(batch), receipt.status, receipt.gas_used, gas, slim)
        # No await from here to the node's ``on_result``: the mirror expects the transaction
        # until ``note_receipt``, and once noted the watcher may apply its block, which must
        # not come before the node confirms the matches. (The fills the broadcaster queued
        # may commit before this status write: a restart reconciles a settlement still
        # "pending" from its receipt, and stores a fill once.)
        status = "mined" if receipt.status == 1 else "failed"
        self.mined(signed.nonce)  # (a count below it is read again: ``_believed``)
        self.store.set_settlement_status(signed.tx_hash, status)
        self.ours.landed(signed.tx_hash, receipt.block_number)
        self.forget_final()
        if again:  # (reverted whole, nothing paid: signed again in parts)
            self._not_ahead(batch)
            return None
        root = lone_tx_root(bytes.fromhex(signed.raw.removeprefix("0x")))
        fills: list[StoredFill] = []
        if (decoded := self.fills_stored.get(signed.tx_hash)) is not None:
            fills = decoded[0]  # (decoded by the broadcaster, and being written)
        elif receipt.status == 1:  # (the node's stored fills at once: no copy made of each)
            fills = self.chain.exchange.fills_as(receipt.logs, own_fill)
        if receipt.status == 1 and len(fills) == 2 * len(batch):  # (every match settled)
            self._learn_gas(len(batch), receipt, signed.raw)  # (its own task: gas97)
        if receipt.status == 1 and self.mirror is not None:  # the watcher takes them from here
            self.mirror.note_receipt(receipt, fills, root)
        return outcome(self.chain.exchange, batch, receipt, signed.tx_hash, fills)
