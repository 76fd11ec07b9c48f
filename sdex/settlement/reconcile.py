"""Settlements a previous run left in flight: each is recorded (signed, with its raw
transaction) before its broadcast (``sdex.settlement.settler``), so at restart its receipt
says what became of it, or the same raw transaction is sent again: same nonce, so it can
land at most once (``mined`` or ``failed``). One that cannot be sent, or whose receipt does
not come in time, is given up (``dropped``: if it lands, the watcher applies its fills) and
its orders are matched again. Run once, before the node loads its orders (``Node.load``).

A row the chain still holds in its pool is not given up for its refusal (Hardhat refuses any
send at a pooled nonce while it automines, "can't be queued when automining"), and if the
chain mines on the send (Hardhat's automine resumed over a pool mines nothing of it until it
is sent a transaction) the lane's transfer of nothing at its next nonce mines it, once a
start (``NonceLane._nudge``). reorg63: such a row was given up at once and its pair matched
again at the next nonce, which mined the pool and reverted behind it (the operator's gas).
On a chain that does not mine on the send (mining manual or on an interval), a row still
pooled after the wait is kept ``pending`` and handed back (``Reconcile.pooled``): the node
adopts it into the lane once its orders are loaded (``sdex.settlement.adopt``). pool64: it
was given up, its pair matched again at the next nonce, reverting when the pooled one landed.
So is one still pooled after the transfer of nothing (behind a gap of the lane's nonces, a
devnet rewound below its settlements: the lane fills it), and any once that transfer is
spent (review77a: given up, matched again, the second settlement reverted).
A row not sent again because the chain behind the URL is not proven the one the node's view
holds (``ChainUnproven``: its identity in doubt, or a backend below the view's block) and not
found is adopted, never given up on those answers (adopt79: they may be another chain's);
in a doubt no answer of the chain is taken of any row, its receipt neither: each is adopted
unread (doubt80: another chain's "reverted" marked a sound pooled row failed, its orders
settled again, paid).
A row refused "nonce too high" is kept (``Reconcile._over_gap``): the nonces below it filled,
sent again, and adopted if not mined in the wait, awaited until its nonce is taken; so is a
row alone at its nonce found neither mined nor pooled with its nonce not taken
(``Reconcile._unspent``; lost78: a backend that lags did not know it, it was given up).
A row not mined nor pooled whose transaction would settle nothing now (an order of it
cancelled, filled or soft-cancelled: ``sdex.settlement.unsettled``, every row judged in one
batched read) is not sent again: its nonce given back, or taken by a transfer of nothing when
a later row needs it (settle81: a withdrawn row a kill left pending was sent, a paid revert);
judged again alone once a row below it was mined, and sent as it is while one below it may
land (``_gone``; settle82: one whose maker the row below pays was withheld, matched again).
One pooled already is replaced at its nonce by a transfer of nothing when that costs less
than its revert (``unsettled.replace_pooled``; settle82: it landed and reverted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence

from sdex.chain import Receipt
from sdex.chain.apart import apart
from sdex.chain.asend import ChainReplaced, ChainUnproven
from sdex.chain.tx import SignedTx, already_known, nonce_refusal
from sdex.errors import ChainError, ContractRevert, RpcError
from sdex.settlement.gap import unheld_below
from sdex.settlement.lane import NonceLane
from sdex.settlement.receipts import APART_WAIT, LOST_RECHECK, in_pool, nonce_taken
from sdex.settlement.rowreceipt import believed, receipt_of, record_landed, start_bound
from sdex.settlement.unread import MARK_REFUSED as MARK_REFUSED  # (tests)
from sdex.settlement.unread import mark_unread as mark_unread  # (the node's)
from sdex.settlement.unsettled import (
    SOFT_CANCELLED,
    NonceTaken,
    pays,
    replace_pooled,
    unsettleable,
    withhold,
)
from sdex.storesettle import StoredSettlement
from sdex.testhooks import shortened

log = logging.getLogger("sdex.settlement")
RESTART_RECEIPT_WAIT = 10.0
"""Seconds a settlement recorded before a restart and sent again waits for its receipt
(twice if the pool was mined meanwhile) before it is given up as ``dropped`` (if it lands
later, the watcher applies its fills). Test-only: ``$SDEX_TEST_RESTART_RECEIPT_WAIT``
shortens it, 0.5 s at least (``sdex.testhooks``; suite93: a test's ``sdex node`` restarted
on a chain that mines only when told waited it out, 10 s a start)."""


async def reconcile(lane: NonceLane) -> list[StoredSettlement]:
    """Settlements recorded but not known mined (the node died mid-flight): finish them;
    those the chain keeps pooled without mining them, returned (``Reconcile.pooled``)."""
    # (read now: tests shorten it, in-process by monkeypatch, a node process's by env)
    wait = shortened("RESTART_RECEIPT_WAIT", RESTART_RECEIPT_WAIT, 0.5)
    r = Reconcile(lane, wait)
    await r.run()
    return r.pooled


def awaited_with(rows: Sequence[StoredSettlement]) -> dict[str, str]:
    """Each of ``rows`` (pending, in the order signed) by the latest of them signed at its
    nonce with the same pairs (itself, or its replacement: the same matches at higher fees,
    ``sdex.settlement.replace``): the row it is awaited with if adopted unread
    (``Reconcile._adopt_unread``; doubt81). Rows at one nonce with other pairs (its nonce
    given back, another batch signed at it: ``superseded``) are each judged on their own
    batch. settle97: grouped by nonce alone, the earlier was awaited with the later, and its
    receipt, once it landed, judged against the later's batch (``whole``): never believed,
    the later's orders held in flight, the earlier's fills maybe never applied."""
    latest: dict[tuple[int, tuple[tuple[str, str], ...]], str] = {}
    for s in rows:
        latest[s.nonce, _pairs(s)] = s.tx_hash
    return {s.tx_hash: latest[s.nonce, _pairs(s)] for s in rows}


def _pairs(row: StoredSettlement) -> tuple[tuple[str, str], ...]:
    """``row``'s pairs (resting, incoming order hashes) as compared: lower-case."""
    return tuple((a.lower(), b.lower()) for a, b in row.pairs)


class Unsettleable(ChainError):
    """A row whose transaction would settle nothing if sent again now (``unsettleable``)."""


class StillPooled(ChainError):
    """A row's transaction is still in the chain's pool after the wait, on a chain that
    does not mine on the send: it may land at any block."""


class Reconcile:
    """One start's reconciliation of the pending settlement rows (``run``)."""

    def __init__(self, lane: NonceLane, wait: float) -> None:
        self.lane, self.chain, self.sender = lane, lane.chain, lane.sender
        self.wait = wait
        """Seconds a row's receipt is awaited (twice if the pool was mined meanwhile)."""
        self.nudged = False
        self.pooled: list[StoredSettlement] = []
        """Rows kept ``pending``, their transactions in a pool the chain is not told to
        mine: the node adopts them into the lane (``sdex.settlement.adopt``)."""
        self.rows: list[StoredSettlement] = []
        self.gone: dict[str, str] | None = None
        """Of ``rows``, those whose bytes would settle nothing if sent again, and why
        (``sdex.settlement.unsettled``): read once, at the first row sent again (None:
        not yet)."""
        self.filled: set[int] = set()
        """Nonces of rows not sent again taken by a transfer of nothing (``withhold``)."""
        self.landed: list[int] = []
        """Nonces of rows found mined (a receipt of status 1), in the order found."""
        self.judged: dict[str, int] = {}
        """Of ``gone``'s rows, how many of ``landed`` there were when each was judged."""
        self.left: list[StoredSettlement] = []
        """Rows left pending (no receipt read): they may land yet."""
        self.until = 0.0
        """When the start's confirming reads end (``rowreceipt.start_bound``: ``run`` sets it)."""
        self.unsent: set[str] = set()
        """Rows not sent again, the chain behind the URL not proven the view's
        (``ChainUnproven``: in doubt, or a backend below the view's block): adopted if not
        found, never judged on the answers of a chain not proven ours (``_unspent``)."""

    async def run(self) -> None:
        """Those an earlier run gave up are given up again: landed since, or landing later,
        their fills count in the orders closed meanwhile (chaos63: the set is memory only,
        and a restart between the give-up and the landing left the node's own fill of an IOC
        closed "not resting after restart" counted nowhere, its record 0 filled for good)."""
        for tx_hash in self.lane.store.given_up_settlements():
            self.lane.ours.add(tx_hash)
            self.lane.give_up(tx_hash)
        head = self.lane.mirror.head if self.lane.mirror is not None else None
        if head is not None:
            # chaos74: one mined and its receipt applied, its fills stored, then a kill
            # before the row of the one-shot order it filled was written and the block's
            # head saved: the order comes back open, is closed from the saved mirror below
            # that block ("not resting after restart", 0 filled), and the catch-up's fill
            # of it, ours and stored already, counted nowhere. Counted as chaos63's is.
            for tx_hash, block in self.lane.store.own_fills_above(head.number):
                self.lane.ours.add(tx_hash, block)
                self.lane.given_up.add(tx_hash)
        rows, self.until = self.lane.store.pending_settlements(), start_bound()
        self.rows = rows
        # (a settlement and its replacements: restart97, by nonce alone a batch of other
        # pairs signed over one at its nonce was given up unread, its pair matched again)
        at_nonce = Counter((s.nonce, _pairs(s)) for s in rows)
        last = awaited_with(rows)  # (the latest signed at each nonce with its pairs)
        for s in rows:
            got: Receipt | None
            self.lane.ours.add(s.tx_hash)
            self.sender.signed(s.nonce)  # (before the restart: a cancel now names one past it)
            if await self._unread(s, last[s.tx_hash]):  # (doubt80: in a doubt, nothing read)
                continue
            rpc = self.chain.rpc
            receipt = await self.chain.run(rpc.call, "eth_getTransactionReceipt", s.tx_hash)
            if receipt is None:
                try:  # same raw transaction, same nonce: it can land at most once
                    await self._send_again(s)
                    got = await self._receipt(s)
                except Unsettleable as e:  # (settle81: a paid revert, or a batch of nothing)
                    await withhold(self.lane, s, str(e), self._needed(s), self.filled)
                    continue
                except StillPooled as e:
                    log.warning("pending settlement %s adopted: %s", s.tx_hash, e)
                    self.pooled.append(s)
                    continue
                except Exception as e:
                    alone = at_nonce[s.nonce, _pairs(s)] == 1  # (else the one pooled is)
                    if s.tx_hash in self.lane.kept or (alone and await self._unspent(s, e)):
                        log.warning("pending settlement %s kept: adopted (%s)", s.tx_hash, e)
                        self.pooled.append(s)
                        continue
                    log.warning("pending settlement %s could not be sent again: %s", s.tx_hash, e)
                    await self.lane.store.set_settlement_status(s.tx_hash, "dropped")
                    self.lane.give_up(s.tx_hash, alone)  # (if it lands, the watcher applies it)
                    continue
            else:
                try:  # (an answer that is no receipt: a broken or hostile endpoint's)
                    got = receipt_of(receipt)
                except ValueError:
                    got = None
                if got is not None and not await believed(
                    self.lane, got, s.pairs, until=self.until
                ):
                    doubt = bool(self.lane.async_sends.doubted())  # (settle97: else not held)
                    self._adopt_unread(s, last[s.tx_hash], "its receipt not believed", doubt)
                    continue  # (settle96: a lie of "reverted" failed it, matched again)
            if await self._unread(s, last[s.tx_hash]):  # (begun meanwhile: not taken)
                continue
            if got is None:
                log.warning("pending settlement %s: no receipt read; left pending", s.tx_hash)
                self.left.append(s)
                continue  # (if it landed, the watcher applies it with its block)
            if got.status == 1:  # (a row above judged before may settle now: ``_gone``)
                self.landed.append(s.nonce)
            # chaos63: its block may be above the saved mirror's head, which judges the
            # stored orders next (``Node.load``): a one-shot order closed there ("not resting
            # after restart") without this fill; the watcher's catch-up then applies the
            # block, and counts the fill in it as a given-up settlement's (never above the
            # chain's)
            self.lane.given_up.add(s.tx_hash.lower())
            await record_landed(self.lane, s.tx_hash, got)

    async def _unread(self, row: StoredSettlement, latest: str) -> bool:
        """Whether the chain's identity is in doubt: then nothing the chain answers of
        ``row`` is taken (another chain's, maybe: a receipt there where its bytes reverted
        marked a sound pooled settlement ``failed`` and freed its orders, a second settlement
        paid; doubt80) and it is adopted unread (``unsent``: its wait judges it once the
        chain is proven ours, ``poll_receipt``'s ``held``); one a later one was signed after
        at its nonce (``latest``: the same matches at higher fees) is awaited with that one,
        which holds their orders (``NonceLane.replaced_rows``; doubt81: it was given up
        unread, ``dropped`` though it may be the one that landed, and the adopted one counted
        lost when it did)."""
        if not (why := self.lane.async_sends.doubted()):
            return False
        self._adopt_unread(row, latest, f"in doubt ({why})", True)
        return True

    def _adopt_unread(self, row: StoredSettlement, latest: str, why: str, doubt: bool) -> None:
        """``row`` adopted unread (``why``): its wait judges it, its receipt confirmed
        (``poll_receipt``); one a later one was signed after at its nonce with its pairs
        (``latest``: ``awaited_with``) awaited with it. ``doubt``: held by a doubt from now
        (``unsent_at``, counted toward ``HELD_SEND_MAX``). settle97: set for a receipt not
        believed with no doubt too, a start longer than ``HELD_SEND_MAX`` made a sound row
        stale (its cancel at its nonce, never its own bytes again, had the chain dropped
        them)."""
        if row.tx_hash != latest:
            log.warning("pending settlement %s awaited with %s: %s", row.tx_hash, latest, why)
            replaced = SignedTx(row.tx_hash, row.nonce, row.raw_tx)
            self.lane.replaced_rows.setdefault(latest, []).append(replaced)
            return
        log.warning("pending settlement %s adopted unread: %s", row.tx_hash, why)
        self.unsent.add(row.tx_hash)
        if doubt:
            self.lane.unsent_at[row.tx_hash] = time.time()  # (its hold counts: ``_held_before``)
        self.pooled.append(row)

    async def _send_again(self, row: StoredSettlement) -> None:
        """Send a recorded transaction again; one the chain holds already (pooled, also
        when it refuses the send: Hardhat while it automines) counts as sent; one refused
        "nonce too high" is kept (``_over_gap``). Only on the
        chain the node's view has (``AsyncSends.on_chain``; resend67: the chain behind the URL
        replaced since the start bound the store to it took the old chain's row): else
        ``ChainReplaced`` (the row given up, its orders the reset's to re-judge). Neither
        proven (``ChainUnproven``: a backend below the view's block): not sent, its receipt
        waited for (adopted if not found: adopt79; left76 gave it up). Proven, a row whose
        transaction would settle nothing now and that is not pooled raises ``Unsettleable``
        (``sdex.settlement.unsettled``; settle81)."""
        tx_hash, raw_tx = row.tx_hash, row.raw_tx
        sends = self.lane.async_sends
        try:
            same = await sends.on_chain(sends.viewed())
        except ChainUnproven as e:
            log.warning("pending settlement %s not sent again: %s", tx_hash, e)
            self.unsent.add(tx_hash)  # (adopted if not found: adopt79)
            return
        if not same:
            raise ChainReplaced(f"{tx_hash} not sent again: the chain was replaced")
        if self.gone is None:  # (one read for every row from here on: settle81)
            left = [r for r in self.rows if r.nonce >= row.nonce]
            self.gone = await unsettleable(self.lane, left)
            self.judged = dict.fromkeys(self.gone, len(self.landed))
        if why := await self._gone(row):
            if not await self._pooled(tx_hash):
                raise Unsettleable(why)
            if await replace_pooled(self.lane, row, why):  # (settle82: else a paid revert)
                # (kept pending, awaited as any pooled row: given up only once its nonce is
                # proven taken without it. review82a: given up at the transfer's send, a
                # backend that did not take the transfer mined the row: matched twice)
                self.filled.add(row.nonce)
                return
        try:
            await self.chain.run(self.chain.rpc.call, "eth_sendRawTransaction", raw_tx)
        except ContractRevert:
            return  # mined and reverted (Hardhat answers so): its receipt says ``failed``
        except RpcError as e:
            if already_known(e) or await self._pooled(tx_hash):
                return
            if nonce_refusal(e) != "high":
                raise
            await self._over_gap(row, e)

    def _needed(self, row: StoredSettlement) -> bool:
        """Whether a later row that is sent again waits on ``row``'s nonce (one above it whose
        judgement as ``unsettleable`` does not stand: its nonce must be taken, ``withhold``)."""
        return any(r.nonce > row.nonce and not self._stands(r) for r in self.rows)

    def _stands(self, row: StoredSettlement) -> bool:
        """Whether ``gone`` judges ``row`` unsettleable and that holds as ``row``'s turn
        comes: soft-cancelled, or no row below it mined since it was judged nor left to land
        paying a maker of it (judged alone at the latest block, a row may need the fills of
        one below first: a maker paid by it; settle82, such a row was withheld, its matches
        redone)."""
        why = (self.gone or {}).get(row.tx_hash)
        if why is None or why == SOFT_CANCELLED:
            return why is not None
        if self._paid_below(row):
            return False
        return not any(n < row.nonce for n in self.landed[self.judged.get(row.tx_hash, 0) :])

    def _paid_below(self, row: StoredSettlement) -> bool:
        """Whether a row below ``row`` left to land (pooled, adopted) may pay a maker of it
        what it sells there (``unsettled.pays``). Not one whose receipt answer did not read
        (``left``: most likely mined, its effect in the latest block already; review82a: a row
        above it that reverts for good was sent, mined and reverted, paid), nor one whose
        nonce a transfer of nothing was sent to take (``filled``: ``replace_pooled``'s, kept
        pending since 82f9933c; settle83: the row above was sent, reverted behind it, paid)."""
        below = [r for r in self.pooled if r.nonce < row.nonce and r.nonce not in self.filled]
        return any(pays(r, row) for r in below)

    async def _gone(self, row: StoredSettlement) -> str | None:
        """Why ``row``'s bytes would settle nothing if sent now (``gone``'s, judged again
        alone when a row below it was mined since: one call), or None: sent again. A row
        below it still to land (pooled, adopted, left pending) that pays a maker of it:
        None, it may settle once that one lands."""
        why = (self.gone or {}).get(row.tx_hash)
        if why is None or self._stands(row):
            return why
        if self._paid_below(row):
            return None
        assert self.gone is not None  # (``why`` is one of it)
        again = (await unsettleable(self.lane, [row])).get(row.tx_hash)
        self.judged[row.tx_hash] = len(self.landed)
        if again is None:
            del self.gone[row.tx_hash]
        else:
            self.gone[row.tx_hash] = again
        return again

    async def _over_gap(self, row: StoredSettlement, e: RpcError) -> None:
        """``row`` refused "nonce too high" (``e``) and not known to the backend that said
        so: behind a balancer, one that lags the one that took it before the restart, or
        took it now and answered through another; or the chain's count below it (blocks of
        the run before undone). It is kept (``NonceLane.kept``: awaited, adopted if not
        mined here, until its nonce is taken), the nonces below it that the chain holds
        nothing of filled by transfers of nothing (``sdex.settlement.gap.unheld_below``),
        and it is sent again as signed. reconcile77: it was given up at once and its orders
        matched again at the next nonce while the first backend pooled it: both landed, the
        same matches settled twice (the second a paid revert, its matches shown failed).
        A refusal again is raised: the row is adopted all the same (its wait sends it again
        until its nonce is taken: ``NonceLane._keep_alive``)."""
        lane, sends = self.lane, self.lane.async_sends
        log.warning("pending settlement %s refused for its nonce (%s): kept", row.tx_hash, e)
        lane.kept.add(row.tx_hash)
        refused = SignedTx(row.tx_hash, row.nonce, row.raw_tx)
        view = sends.viewed()  # (``_send_again`` proved the chain behind the URL holds it)
        lane.signed_views[row.tx_hash] = (view, refused)  # (adopted: sent again in it only)
        if why := sends.doubted():  # (doubt78: nothing filled nor sent; adopted, kept)
            raise ChainUnproven(f"the chain's identity is in doubt ({why}): not filled")
        async with lane._send_lock:
            try:
                address = self.sender.address
                gap = await unheld_below(lane.receipts, address, refused, (), view, sends.viewed)
            except Exception as err:  # (sent again as it is: a refusal again adopts it)
                log.warning("nonces below %s not read: %s", row.tx_hash, err)
                gap = range(0)
            if gap:
                log.warning("settlement %s refused past nonces %s: filled", row.tx_hash, gap)
                await lane._fill(gap)
        try:
            await self.chain.run(self.chain.rpc.call, "eth_sendRawTransaction", row.raw_tx)
        except RpcError as again:
            if not already_known(again):
                raise

    async def _unspent(self, row: StoredSettlement, e: Exception) -> bool:
        """(A row not mined nor pooled by the answers of ``_send_again`` and ``_receipt``,
        ``e`` why) Whether its nonce may be free: the chain replaced (``ChainReplaced``)
        gives it up; not proven the view's (``unsent``: in doubt, or a backend below the
        view's block) keeps it, nothing asked (adopt79: kept77 gave it up, "never on any
        chain", on the answers of what may be another chain, and its orders were matched
        again once the chain was proven ours while the previous run's bytes were pooled on
        it: both mined, the second a paid revert); the lane's wait judges it once the doubt
        ends (``poll_receipt``'s ``held``: lost only once its nonce is taken, cancelled at
        its bound). One answer giving
        the operator's count past its nonce with no receipt of it gives it up
        (``receipts.nonce_taken``); any other, or no answer, keeps it
        (adopted: awaited until its nonce is taken, lost78), if a second answer
        ``LOST_RECHECK`` later, on a connection of its own (``apart``; settle90: a sticky
        balancer answered both from one backend), says so again, as the receipt wait asks
        (review79: one answer, lied, flapped, or its bytes being mined that moment, gave the
        row up, its orders matched again while it was pooled: both mined, the second a paid
        revert). Before, a row a backend that lags did not know was given up, its orders
        matched again while the other backend pooled its bytes: both were mined. Asked only
        of a row alone at its nonce with its pairs (a batch of other pairs signed over it
        there is judged apart: restart97): of a settlement and its replacements, the one pooled is
        adopted (``StillPooled``), the others given up as before (one adopted row holds their
        orders)."""
        if isinstance(e, ChainReplaced | NonceTaken):  # (settle84: its transfer mined)
            return False
        if row.tx_hash in self.unsent:  # (adopt79: judged by the lane once proven ours)
            return True
        signed = SignedTx(row.tx_hash, row.nonce, row.raw_tx)
        try:
            taken, got = await nonce_taken(self.lane.receipts, self.sender.address, signed)
            if taken and got is None:  # (said again ``LOST_RECHECK`` later, or not believed)
                await asyncio.sleep(LOST_RECHECK)  # (on a connection of its own: settle90)
                read = lambda own: nonce_taken(own, self.sender.address, signed)  # noqa: E731
                taken, got = await apart(self.lane.receipts, read, APART_WAIT)
        except Exception:
            return True
        return not taken and got is None

    async def _pooled(self, tx_hash: str) -> bool:
        """Whether the chain holds ``tx_hash`` in its pool (False if it cannot say)."""
        try:
            return in_pool(await self.lane.receipts.call("eth_getTransactionByHash", tx_hash))
        except Exception:
            return False

    async def _receipt(self, row: StoredSettlement) -> Receipt:
        """``row``'s receipt (``_mined``), believed as the live wait believes one
        (``rowreceipt.believed``): else ``StillPooled``, adopted (its wait judges it)."""
        got = await self._mined(row.tx_hash)
        if not await believed(self.lane, got, row.pairs, until=self.until):
            raise StillPooled(f"its receipt (block {got.block_number}) not believed")
        return got

    async def _mined(self, tx_hash: str) -> Receipt:
        """``tx_hash``'s receipt within ``wait`` seconds; still pooled then, on a chain that
        mines on the send, once more after the lane's transfer of nothing (once a start:
        it mines the whole pool). Still pooled after that (behind a gap of the lane's
        nonces, which one transfer does not fill): ``StillPooled``, adopted (the lane fills
        the gap: ``NonceLane._fill_gap``). review77a: given up, its pair was matched again
        and it landed too once the lane's count came to it (the second reverted). While the
        chain's identity is in doubt no transfer is sent (doubt78: it went to a chain that
        may be gone, mining the pooled settlement there): ``StillPooled``, adopted, its
        replacement (and the transfer after a refused one) the lane's once proven."""
        pooled = StillPooled(f"still pooled after {self.wait:g} s")
        try:
            return await self.chain.run(self.sender.wait, tx_hash, self.wait)
        except Exception:
            if not await self._pooled(tx_hash):
                raise
            if self.nudged or not await self._automines():  # (nothing of ours mines it)
                raise pooled from None
            if why := self.lane.async_sends.doubted():  # (doubt78: no transfer sent in doubt)
                log.warning("pending settlement %s pooled, no transfer sent: in doubt (%s)",
                            tx_hash, why)  # fmt: skip
                raise pooled from None
        self.nudged = True
        if not await self.lane._nudge():
            raise ChainError("the transfer of nothing to mine the pool failed")
        try:
            return await self.chain.run(self.sender.wait, tx_hash, self.wait)
        except Exception:
            if await self._pooled(tx_hash):
                raise pooled from None
            raise

    async def _automines(self) -> bool:
        try:
            return await self.lane._automines()
        except Exception:
            return False
