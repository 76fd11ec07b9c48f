"""The one intake path for orders, from wallets and from peers alike.

schema → cheap checks (``sdex.ingest.rules``) → signature → on-chain state (batched
``eth_call``) → accepted. The caller (the node) then stores, books, matches and gossips an
accepted order. Nothing here trusts the sender: a peer's order is checked exactly like a
wallet's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, Callable, Sequence

from sdex.chain import OrderState
from sdex.futures import retrieved
from sdex.ingest.holds import ANSWER_WITHIN, MIN_READ, Hand, Hold, SharedReads, held
from sdex.ingest.limits import Limits
from sdex.ingest.readturns import SUBMITTER
from sdex.ingest.rejections import (
    FOLLOWING,
    Rejection,
    RejectionCode,
    contract_refused,
    not_following,
    read_failed,
)
from sdex.ingest.rules import OrderRules
from sdex.ingest.states import StateBatcher
from sdex.ingest.verdicts import Accepted, IntakeResult, Known, verdict_of
from sdex.ingest.verify import EcdsaBatcher, Eip1271Batcher
from sdex.mirror import Mirror
from sdex.order import Domain, SignedOrder

Spend = Callable[[int], str | None]
"""Whether the order at this index of a ``submit``/``submit_each`` call may read the chain
now: its sender's budget of chain reads (``sdex.node.readbudget``) takes a token, naming the
sender it charged (its read's ``readturns.SUBMITTER``: "" none), or refuses, None (the order
is answered ``THROTTLED``). Asked only of an order that needs a read."""

READ_DEADLINE = 8.0
"""Seconds an order's chain read may take, waits for a connection included, before its
order is answered ``CHAIN_UNAVAILABLE`` (a wallet's 503: try again; a peer's order rejected,
its sender not blamed). The RPC client's own 30 s bound is the whole call's: one read held
(a contract wallet's view, or a path to the chain that holds it) kept its order, and every
order waiting for its connection, that long (reads76). A wallet's order's read ends sooner
if its verdict is due sooner (``holds.ANSWER_WITHIN`` from its POST's arrival: users83)."""


class Intake(OrderRules):
    """Validates raw order JSON for this node's Exchange domain: its rules
    (``OrderRules``), then its signature and chain state."""

    def __init__(
        self,
        domain: Domain,
        batcher: StateBatcher,
        known: Callable[[bytes], bool],
        open_count: Callable[[str | None], int],
        now: Callable[[], int],
        limits: Limits | None = None,
        tokens: frozenset[str] | None = None,
        fee: tuple[str, int] | None = None,
        mirror: Mirror | None = None,
        mirror_ready: Callable[[], bool] | None = None,
        contract_sigs: Eip1271Batcher | None = None,
        chain_status: Callable[[], str] | None = None,
        chain_down: Callable[[], asyncio.Event] | None = None,
        chain_tip: Callable[[], int] | None = None,
        account_open: Callable[[str, str], int] | None = None,
        refresh: Callable[[], None] | None = None,
        restricted_count: Callable[[str | None], int] | None = None,
        restricted_to: Callable[[str], int] | None = None,
    ) -> None:
        """``mirror``: answer chain state from this node's mirror when ``mirror_ready()``
        and the maker's account is known there (no chain call); otherwise ``batcher``.
        Signatures are recovered off the event loop, in batches (``EcdsaBatcher``); other
        signatures (EIP-1271) are judged by the chain through ``contract_sigs``, whose
        cached verdicts cost no call. ``chain_status()`` not ``ok`` (the watcher's: the
        chain behind, unreachable or not ours, or the node failing to apply it): an order
        that needs a chain read is answered ``CHAIN_UNAVAILABLE`` instead, saying which;
        ``chain_down()``, set while the chain is ``unreachable`` (hung: left33), fails the
        reads under way so, at once, not after the RPC client's own timeout."""
        super().__init__(
            domain, known, open_count, now, limits=limits, tokens=tokens, fee=fee,
            account_open=account_open, refresh=refresh, restricted_count=restricted_count,
            restricted_to=restricted_to,
        )  # fmt: skip
        self.chain_status = chain_status or (lambda: "ok")
        self.chain_down = chain_down
        self.read_deadline = READ_DEADLINE
        """Seconds an order's chain read may take (``READ_DEADLINE``)."""
        self.late = 0
        """Chain reads given up unanswered at their deadline (``read_deadline``, or what was
        left of a wallet order's ``holds.ANSWER_WITHIN``): their orders answered
        ``CHAIN_UNAVAILABLE``, the chain slow (``/health`` ``chainMirror.ordersReadLate``)."""
        self.overdue = 0
        """Wallet orders answered ``CHAIN_UNAVAILABLE`` with no read of their own because
        their verdict came due first (they waited for their account's first read, or a hold,
        past ``holds.ANSWER_WITHIN`` less ``holds.MIN_READ``): the node's waits, not the
        chain's answer (users86: they counted in ``late``; ``chainMirror.ordersAnswerDue``)."""
        self.chain_tip = chain_tip or (lambda: -1)
        """The chain's latest block as the watcher last saw it: a read made while the mirror
        replays the chain is at it or later (``Mirror.learn_later``)."""
        self.contract_sigs = contract_sigs
        self.ecdsa = EcdsaBatcher()
        self.batcher = batcher
        self.mirror = mirror
        self.mirror_ready = mirror_ready or (lambda: mirror is not None)
        self.checked = 0
        """Orders that reached the chain-state step."""
        self.read = 0
        """Of those, orders that needed a chain read (first-seen account, EIP-1271, no mirror)."""
        self.throttled = 0
        """Orders that needed a chain read their sender's budget refused (not read)."""
        self.shared = SharedReads(
            lambda s, within: self._read_unless_down(s, True, within),
            self.chain_status,
            self._overdue,
        )
        """Reads of a wallet's held orders past their wait, shared per account (outage79)."""
        self._first_reads: dict[tuple[str, str], asyncio.Future[None]] = {}
        """Reads under way of (maker, makerToken) accounts the mirror does not know: another
        ECDSA-signed order of one waits for it, then asks the mirror (one read, one token)."""

    async def submit(self, obj: object, check_fee: bool = True, spend: Spend | None = None,
                     handing: Hand | None = None, fronted: SignedOrder | None = None,
                     reading: Hand | None = None, hold: Hold | None = None,
                     arrived: float | None = None) -> IntakeResult:  # fmt: skip
        """``arrived``: when a wallet's order came (``time.monotonic()``, its POST's start),
        whence its verdict is due (``due``); None (a peer's): its read has ``read_deadline``."""
        first = self._ruled(fronted, check_fee) if fronted else self.check_offchain(obj, check_fee)
        if not isinstance(first, SignedOrder):
            return first
        signed = first
        if handing is not None:
            handing()
        # Off-chain ECDSA first, on the worker thread. A signature that doesn't recover to
        # the maker may still be a contract wallet's (EIP-1271): the chain's verdict decides.
        ecdsa_ok = True if fronted is not None else await self.ecdsa.ecdsa_ok(signed)
        result = self._after_ecdsa(signed, ecdsa_ok)
        if result is not None:
            return result
        if reading is not None:
            reading()
        state = await self._read_state(signed, ecdsa_ok, spend, 0, hold, due(arrived))
        return state if isinstance(state, Rejection) else self._verdict(signed, ecdsa_ok, state)

    async def submit_each(
        self, objs: Sequence[object], check_fee: bool = True, spend: Spend | None = None,
        handing: Hand | None = None, reading: Hand | None = None, hold: Hold | None = None,
        arrivals: Sequence[float] | None = None,
    ) -> AsyncGenerator[tuple[int, IntakeResult], None]:  # fmt: skip
        """``submit`` of each of ``objs`` (index, result), each as soon as it is known,
        without a task per order: the off-chain checks of all, their signatures in one
        hand-over (in order, as they come back; ``Hand`` before), the chain reads some need
        together last, each yielded as it ends (``spend`` asked of each of those by its index
        in ``objs``; ``reading`` called once before they start: the orders not yielded yet
        wait only on them, checks75; ``arrivals``: each wallet order's, as ``submit``'s)."""
        firsts = [self.check_offchain(o, check_fee) for o in objs]
        signed: list[tuple[int, SignedOrder]] = []
        for i, first in enumerate(firsts):
            if isinstance(first, SignedOrder):
                signed.append((i, first))
            else:
                yield i, first
        reads: list[tuple[int, SignedOrder, bool | None]] = []
        if handing is not None and signed:
            handing()
        async with contextlib.aclosing(self.ecdsa.ecdsa_each([so for _, so in signed])) as oks:
            k = 0
            async for ok in oks:
                i, so = signed[k]
                k += 1
                result = self._after_ecdsa(so, ok)
                if result is None:
                    reads.append((i, so, ok))
                else:
                    yield i, result
        if not reads:
            return
        if reading is not None:
            reading()
        # (a first-seen account, a contract signature: rare, so tasks here) each yielded as
        # its read ends, not once all have: one sender's slow read (a contract wallet whose
        # view burns its gas) held every other sender's order of the call (review74b: a
        # wallet group's, http69)
        pending = {
            asyncio.ensure_future(
                self._read_state(
                    so, ok, spend, i, hold, due(None if arrivals is None else arrivals[i])
                )
            ): (i, so, ok)
            for i, so, ok in reads
        }
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in sorted(done, key=lambda t: pending[t][0]):
                    i, so, ok = pending.pop(task)
                    state = task.result()
                    # judged as each is yielded, after the ones before it were booked: a
                    # maker's open orders are counted (``short_of_funds``), not all seen as
                    # none (attack28)
                    yield i, state if isinstance(state, Rejection) else self._verdict(so, ok, state)
        finally:  # (left early, or cancelled: the reads nobody waits for any more)
            for task in pending:
                task.cancel()

    def _after_ecdsa(self, signed: SignedOrder, ecdsa_ok: bool | None) -> IntakeResult | None:
        """The verdict on ``signed`` after its ECDSA check, if no chain read is needed (the
        mirror's state, a cached EIP-1271 verdict); None: read the chain."""
        if self.known(signed.hash):  # accepted meanwhile (a repeat posted concurrently)
            return Known(signed.hash)
        signed_ok = ecdsa_ok if ecdsa_ok is True else self._contract_verdict(signed)
        if signed_ok is False:  # the chain's cached EIP-1271 verdict: no call
            return self._refused(signed)
        try:
            state = self._state(signed, signed_ok)
        except Exception as e:
            return read_failed(e)
        return None if state is None else self._verdict(signed, ecdsa_ok, state)

    async def _read_state(
        self, signed: SignedOrder, ecdsa_ok: bool | None, spend: Spend | None = None,
        i: int = 0, hold: Hold | None = None, due: float | None = None,
    ) -> OrderState | Rejection:  # fmt: skip
        """``signed``'s chain state from a chain read, or why there is none (the chain not
        followed; its sender's budget of reads spent: ``spend(i)`` refused; ``holds.held``;
        ``due``, its verdict's ``time.monotonic()`` deadline, passed: ``CHAIN_UNAVAILABLE``).
        An order not held had its read's ``read_deadline`` from the read's start: one that
        waited before it (its body sent slowly, another order of its account's first read)
        was answered past the wallet client's 10 s (users83)."""
        status = self.chain_status()
        if status not in FOLLOWING:  # (a backend behind answers from its past: no verdict)
            return not_following(status)
        if hold and ecdsa_ok is True:
            charge = lambda: self._charged(spend, i, signed)  # noqa: E731
            if (h := await held(hold, i, signed, self, charge)) is not None:
                return h  # (the mirror replayed the chain meanwhile, a shared read, or down)
        o, mine = signed.order, None
        if ecdsa_ok is True and self.mirror is not None and self.mirror_ready():
            # (its account: all the mirror lacks; not while it replays: it would not learn)
            account = (o.maker, o.maker_token)
            if (under_way := self._first_reads.get(account)) is not None:
                # (never fails; a cancel of ours: not its)
                await asyncio.wait([under_way], timeout=_left(due))
                if not under_way.done():
                    return self._overdue(signed)
                if self.mirror_ready() and (known := self.mirror.state(signed)) is not None:
                    return known
                if (status := self.chain_status()) not in FOLLOWING:  # (went down meanwhile)
                    return not_following(status)
            if account not in self._first_reads:
                mine = self._first_reads[account] = asyncio.get_running_loop().create_future()
        whose = None
        try:
            if (left := _left(due)) is not None and left < MIN_READ:  # (too little: no token)
                return self._overdue(signed)
            if spend is not None:
                if (who := spend(i)) is None:
                    self.throttled += 1
                    return Rejection.of(RejectionCode.THROTTLED).of_order(signed.hash)
                whose = SUBMITTER.set(who)  # (its read's task is made in this context)
            return await self._read_unless_down(signed, ecdsa_ok, left)
        except Exception as e:
            return read_failed(e)
        finally:
            if whose is not None:
                SUBMITTER.reset(whose)
            if mine is not None:
                del self._first_reads[(o.maker, o.maker_token)]
                mine.set_result(None)

    def _charged(self, spend: Spend | None, i: int, signed: SignedOrder) -> Rejection | None:
        """A token of the order's sender's budget (``spend(i)``), or ``THROTTLED``."""
        if spend is None or spend(i) is not None:
            return None
        self.throttled += 1
        return Rejection.of(RejectionCode.THROTTLED).of_order(signed.hash)

    async def _read_unless_down(
        self, signed: SignedOrder, ecdsa_ok: bool | None, within: float | None = None
    ) -> OrderState | Rejection:
        """``_read``, or ``CHAIN_UNAVAILABLE`` as soon as the chain is marked unreachable
        or ``read_deadline`` passes (``within``, if sooner: a held order's shared read,
        ``holds.ANSWER_WITHIN``; the batch's call is left to end by itself: the RPC client's
        timeout; the other orders it reads for keep waiting on it)."""
        deadline = self.read_deadline if within is None else min(within, self.read_deadline)
        read = asyncio.ensure_future(self._read(signed, ecdsa_ok))
        hung = None if self.chain_down is None else asyncio.ensure_future(self.chain_down().wait())
        waits = (read,) if hung is None else (read, hung)
        try:
            await asyncio.wait(waits, timeout=deadline, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            read.cancel()
            raise
        finally:
            down = hung is not None and hung.done()
            if hung is not None:
                hung.cancel()
        if read.done():
            return read.result()
        read.cancel()  # (this order's wait only: ``retrieved`` takes what it ends with)
        read.add_done_callback(retrieved)
        if down:
            return not_following("unreachable")
        return self._late(signed, deadline)

    def _late(self, signed: SignedOrder, deadline: float) -> Rejection:
        """``CHAIN_UNAVAILABLE``: ``signed``'s read not answered within ``deadline`` seconds,
        "try again" (``late``)."""
        self.late += 1
        why = f"the chain did not answer this order's read within {round(deadline, 1):g} s"
        return Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, f"{why}; try again").of_order(
            signed.hash
        )

    def _overdue(self, signed: SignedOrder) -> Rejection:
        """``CHAIN_UNAVAILABLE``: ``signed``'s verdict due before a read of its own could be
        made (``overdue``), "try again"."""
        self.overdue += 1
        why = "the node could not read this order's chain state before its answer was due"
        return Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, f"{why}; try again").of_order(
            signed.hash
        )

    def _verdict(
        self, signed: SignedOrder, ecdsa_ok: bool | None, state: OrderState
    ) -> IntakeResult:
        verdict = verdict_of(signed, ecdsa_ok, state)
        if ecdsa_ok is not True and not state.signature_valid:
            return self._refused(signed)  # (a contract's answer, or none could take it)
        if isinstance(verdict, Accepted):
            short = self.short_of_funds(signed.order, state)
            if short is not None:
                return short.of_order(signed.hash)
        return verdict

    def _state(self, signed: SignedOrder, signed_ok: bool | None) -> OrderState | None:
        """The mirror's answer (an order signed by ECDSA or with a cached EIP-1271 verdict,
        from a known account), or None."""
        self.checked += 1
        if signed_ok is not True or self.mirror is None or not self.mirror_ready():
            return None
        return self.mirror.state(signed, signature_valid=True)

    def _refused(self, signed: SignedOrder) -> Rejection:
        """``INVALID_SIGNATURE`` for a signature the chain refused, as its maker's contract's
        answer where the maker has code (no peer's bad faith: ``contract_refused``); where
        it had none, naming the block (``no_code_at``: a peer's charge waits, signer78)."""
        r = Rejection.of(RejectionCode.INVALID_SIGNATURE)
        cs = self.contract_sigs
        if cs is None:
            return r.of_order(signed.hash)
        if cs.mirror.sigs.by_contract(signed):
            return contract_refused().of_order(signed.hash)
        block = cs.mirror.sigs.read_at(signed)
        if block is None:  # (evicted meanwhile by a flood of others: read at no later block)
            head = cs.mirror.head
            block = max(self.chain_tip(), -1 if head is None else head.number)
        return Rejection(r.code, r.errors, signed.hash, r.detail, (signed.order.maker, block))

    def _contract_verdict(self, signed: SignedOrder) -> bool | None:
        """The mirror's cached EIP-1271 verdict on ``signed``, or None."""
        cs = self.contract_sigs
        return None if cs is None else cs.mirror.sigs.verdict(signed)

    async def _read(self, signed: SignedOrder, ecdsa_ok: bool | None) -> OrderState:
        """One chain read (shared by every order in the batch window); the mirror learns
        the account's funds from it."""
        self.read += 1
        m = self.mirror
        read_at = m.head.number if m is not None and m.head is not None else -1
        said = -1 if m is None else m.doubt_mark  # (below: review101)
        tip = self.chain_tip()
        if ecdsa_ok is not True and self.contract_sigs is not None:
            state = await self.contract_sigs.get(signed)  # the verdict is cached too
        else:
            state = await self.batcher.get(signed)
        sig_ok = ecdsa_ok or state.signature_valid
        if m is None or said < 0 or said != m.doubt_mark:  # (in a doubt of the chain's identity,
            return state  # or one said meanwhile: "latest" maybe another chain's, not learned)
        if sig_ok and self.mirror_ready() and m.head is not None:
            m.learn(signed, state, read_at)
        elif sig_ok and read_at < tip and self.chain_status() in FOLLOWING:
            m.learn_later(signed, state, tip)  # (the replay under way: once it passes ``tip``)
        return state


def due(arrived: float | None) -> float | None:
    """When a wallet's order that came at ``arrived`` (``time.monotonic()``) is answered at
    the latest (``ANSWER_WITHIN``); None: no arrival (a peer's order), no due time."""
    return None if arrived is None else arrived + ANSWER_WITHIN


def _left(due: float | None) -> float | None:
    """Seconds left until ``due`` (``time.monotonic()``), None for none."""
    return None if due is None else due - time.monotonic()
