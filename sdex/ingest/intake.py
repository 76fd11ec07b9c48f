"""The one intake path for orders, from wallets and from peers alike.

schema → cheap checks → signature → on-chain state (batched ``eth_call``) → accepted.
The caller (the node) then stores, books, matches and gossips an accepted order. Nothing
here trusts the sender: a peer's order is checked exactly like a wallet's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence

from sdex.chain import OrderState
from sdex.errors import OrderParseError
from sdex.futures import retrieved
from sdex.ingest.holds import Hand, Hold, held
from sdex.ingest.limits import Limits
from sdex.ingest.readturns import SUBMITTER
from sdex.ingest.rejections import (
    FOLLOWING,
    Rejection,
    RejectionCode,
    contract_refused,
    not_following,
    read_failed,
    restricted_full,
)
from sdex.ingest.states import StateBatcher
from sdex.ingest.verdicts import Accepted, IntakeResult, Known, taker_never_trades, verdict_of
from sdex.ingest.verify import EcdsaBatcher, Eip1271Batcher
from sdex.mirror import Mirror
from sdex.model import MAX_SIGNATURE_BYTES
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, validity_errors

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
order waiting for its connection, that long (reads76)."""

SIGNATURE_HEX = 2 + 2 * MAX_SIGNATURE_BYTES
"""The longest ``signature`` string taken: ``0x`` and ``MAX_SIGNATURE_BYTES`` in hex."""


class Intake:
    """Validates raw order JSON for this node's Exchange domain."""

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
        self.chain_status = chain_status or (lambda: "ok")
        self.chain_down = chain_down
        self.read_deadline = READ_DEADLINE
        """Seconds an order's chain read may take (``READ_DEADLINE``)."""
        self.late = 0
        """Reads given up at ``read_deadline`` (their orders answered ``CHAIN_UNAVAILABLE``)."""
        self.chain_tip = chain_tip or (lambda: -1)
        """The chain's latest block as the watcher last saw it: a read made while the mirror
        replays the chain is at it or later (``Mirror.learn_later``)."""
        self.account_open = account_open or (lambda maker, token: 0)
        """Open orders of ``maker`` selling ``token`` (each needs the token's minimum)."""
        self.refresh = refresh or (lambda: None)
        """Bring the open counts up to the book (orders that became ``unfunded`` since the
        last block leave the tradable count): called only at the total bound."""
        self.domain = domain
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
        self._first_reads: dict[tuple[str, str], asyncio.Future[None]] = {}
        """Reads under way of (maker, makerToken) accounts the mirror does not know: another
        ECDSA-signed order of one waits for it, then asks the mirror (one read, one token)."""
        self.known = known
        self.open_count = open_count
        self.restricted_count = restricted_count or (lambda maker: 0)
        """``open_count`` of the orders restricted to one taker."""
        self.restricted_to = restricted_to or (lambda taker: 0)
        """Open orders restricted to a given taker."""
        self.now = now
        self.limits = limits or Limits()
        self.tokens = tokens
        self.fee = fee
        """(feeRecipient, basis points) this node asks of its wallets' orders; None: none."""

    def check_offchain(
        self, obj: object, check_fee: bool = True
    ) -> SignedOrder | Known | Rejection:
        """Everything that needs no chain: schema, rules, expiry, limits, ECDSA signature.

        ``check_fee``: hold the order to this node's fee (a wallet's order; a peer's order
        was held to its own node's fee)."""
        sig = obj.get("signature") if isinstance(obj, dict) else None
        if isinstance(sig, str) and len(sig) > SIGNATURE_HEX:  # (before it is even decoded)
            return Rejection.of(RejectionCode.SIGNATURE_TOO_LONG)
        try:
            signed = SignedOrder.from_json(obj, self.domain)
        except OrderParseError as e:
            return Rejection(RejectionCode.MALFORMED, e.errors)
        return self._ruled(signed, check_fee)

    def _ruled(self, signed: SignedOrder, check_fee: bool) -> SignedOrder | Known | Rejection:
        result = self._rules(signed, check_fee)
        return result.of_order(signed.hash) if isinstance(result, Rejection) else result

    def _rules(
        self, signed: SignedOrder, check_fee: bool, book_limits: bool = True
    ) -> SignedOrder | Known | Rejection:
        """``check_offchain``'s checks of an order that parsed; ``book_limits`` False: not
        the book's bounds of open orders (``over_limit``: an order held closed takes none)."""
        if self.known(signed.hash):
            return Known(signed.hash)
        o = signed.order
        if errs := validity_errors(o):
            return Rejection(RejectionCode.INVALID_AMOUNTS, errs)
        if why := taker_never_trades(o, self.domain.verifying_contract):
            return Rejection.of(RejectionCode.TAKER_NEVER_TRADES, why)
        if o.expiry <= (bound := self.now() + self.limits.expiry_margin):
            # (user48: it said "not after the latest block" of an expiry past that block but
            # not past the chain's time to come, nor said what expiry would do)
            return Rejection.of(
                RejectionCode.EXPIRED,
                f"expiry {o.expiry} is not after {bound}, the earliest this node takes now "
                "(the chain's time as the node reads it, and a margin)",
            )
        if self.tokens is not None:
            for name, token in (("makerToken", o.maker_token), ("takerToken", o.taker_token)):
                if token not in self.tokens:
                    r = Rejection.of(RejectionCode.TOKEN_NOT_SUPPORTED)
                    r.errors[0] = type(r.errors[0])(
                        name, r.errors[0].code, f"{name} {token} is not listed"
                    )
                    return r
        if check_fee and self.fee is not None and self.fee[1] > 0:
            recipient, bps = self.fee
            need = o.taker_amount * bps // 10_000
            if o.fee_recipient != recipient or o.fee_amount < need:
                return Rejection.of(
                    RejectionCode.FEE_REQUIRED,
                    f"this node asks feeRecipient {recipient} and feeAmount >= {need} "
                    f"({bps} bps of takerAmount)",
                )
        if (small := self.below_minimum(o)) is not None:
            return small
        if book_limits and (over := self.over_limit(o)) is not None:
            return over
        return signed

    def closed_rules(self, signed: SignedOrder) -> Rejection | None:
        """Would this node hold ``signed`` if a wallet posted it (but its signature and the
        chain's state)? Listed tokens, amounts, expiry by the chain's clock, minimums; a peer's
        fee. For an order taken closed (a peer's soft cancel, ``NodePeering.take_cancelled``):
        the book's open-order bounds are not its to take."""
        result = self._rules(signed, check_fee=False, book_limits=False)
        return result if isinstance(result, Rejection) else None

    def below_minimum(self, o: Order) -> Rejection | None:
        """An order that sells or asks for less than its token's minimum: its trades would
        be dust (the operator's gas for next to nothing traded)."""
        for name, token, amount in (
            ("makerAmount", o.maker_token, o.maker_amount),
            ("takerAmount", o.taker_token, o.taker_amount),
        ):
            least = self.limits.minimum(token)
            if amount < least:
                r = Rejection.of(RejectionCode.BELOW_MINIMUM)
                why = f"{name} {amount} is below this node's minimum {least} for {token}"
                r.errors[0] = type(r.errors[0])(name, r.errors[0].code, why)
                return r
        return None

    def short_of_funds(self, o: Order, state: OrderState) -> Rejection | None:
        """A maker that holds (or lets the Exchange take) less of what it sells than the
        token's minimum for each of its open orders of it and this one: an order it could
        never trade, or one only the same funds back many times (which would let one
        balance fill the book's bounds). None for a token with no minimum."""
        least = self.limits.minimum(o.maker_token)
        if least <= 0:
            return None
        spendable = min(state.maker_balance, state.maker_allowance)
        if spendable < least:
            return Rejection.of(
                RejectionCode.UNFUNDED,
                f"the maker's spendable makerToken ({spendable}) is below this node's "
                f"minimum {least}",
            )
        held = self.account_open(o.maker, o.maker_token)
        if held + 1 > spendable // least:
            return Rejection.of(
                RejectionCode.MAKER_LIMIT,
                f"each open order needs {least} of makerToken in the maker's spendable "
                f"balance ({spendable}): {held} open already",
            )
        return None

    def admit(self, accepted: Accepted) -> Rejection | None:
        """The limits again, just before ``accepted`` joins the book (no await between):
        orders whose verdicts were given together (a peer's chunk, its chain reads run at
        once) each saw the open counts as they were before any of them was accepted."""
        o = accepted.signed.order
        over = self.over_limit(o)
        return over if over is not None else self.short_of_funds(o, accepted.state)

    def over_limit(self, o: Order) -> Rejection | None:
        """The book's limits: open orders that can trade now in all (``unfunded`` ones are
        bounded apart: ``Limits.max_unfunded``), open orders per maker. Checked before the
        chain read and again just before acceptance (many orders are read at once)."""
        if self.open_count(None) >= self.limits.max_orders:
            self.refresh()  # (at the bound only: the statuses the book moved, counted)
            if self.open_count(None) >= self.limits.max_orders:
                return Rejection.of(RejectionCode.BOOK_FULL)
        if self.open_count(o.maker) >= self.limits.max_orders_per_maker:
            return Rejection.of(RejectionCode.MAKER_LIMIT)
        return None if o.taker == ZERO_ADDRESS else self._over_restricted(o.maker, o.taker)

    def _over_restricted(self, maker: str, taker: str) -> Rejection | None:
        """The bounds of orders restricted to one taker (walk46, book49: ``Limits``)."""
        most = self.limits.max_restricted_per_maker
        if (held := self.restricted_count(maker)) >= most:
            return restricted_full("the maker", held, most)
        most = self.limits.max_restricted_per_taker
        if self.restricted_to(taker) >= most:
            self.refresh()  # (at the bound only: orders the book parked, not counted)
            if (held := self.restricted_to(taker)) >= most:
                return restricted_full("this node for that taker", held, most)
        most = self.limits.max_restricted_orders
        if self.restricted_count(None) >= most:
            self.refresh()  # (at the bound only, as ``max_orders``)
            if (held := self.restricted_count(None)) >= most:
                return restricted_full("this node", held, most)
        return None

    async def submit(self, obj: object, check_fee: bool = True, spend: Spend | None = None,
                     handing: Hand | None = None, fronted: SignedOrder | None = None,
                     reading: Hand | None = None, hold: Hold | None = None,
                     ) -> IntakeResult:  # fmt: skip
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
        return await self._after_read(signed, ecdsa_ok, spend, hold)

    async def submit_each(
        self, objs: Sequence[object], check_fee: bool = True, spend: Spend | None = None,
        handing: Hand | None = None, reading: Hand | None = None, hold: Hold | None = None,
    ) -> AsyncGenerator[tuple[int, IntakeResult], None]:  # fmt: skip
        """``submit`` of each of ``objs`` (index, result), each as soon as it is known,
        without a task per order: the off-chain checks of all, their signatures in one
        hand-over (in order, as they come back; ``Hand`` before), the chain reads some need
        together last, each yielded as it ends (``spend`` asked of each of those by its index
        in ``objs``; ``reading`` called once before they start: the orders not yielded yet
        wait only on them, checks75)."""
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
            asyncio.ensure_future(self._read_state(so, ok, spend, i, hold)): (i, so, ok)
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

    async def _after_read(
        self, signed: SignedOrder, ecdsa_ok: bool | None, spend: Spend | None, hold: Hold | None
    ) -> IntakeResult:
        """The verdict on ``signed`` from a chain read."""
        state = await self._read_state(signed, ecdsa_ok, spend, 0, hold)
        return state if isinstance(state, Rejection) else self._verdict(signed, ecdsa_ok, state)

    async def _read_state(
        self, signed: SignedOrder, ecdsa_ok: bool | None, spend: Spend | None = None,
        i: int = 0, hold: Hold | None = None) -> OrderState | Rejection:  # fmt: skip
        """``signed``'s chain state from a chain read, or why there is none (the chain not
        followed; its sender's budget of reads spent: ``spend(i)`` refused; ``holds.held``)."""
        status = self.chain_status()
        if status not in FOLLOWING:  # (a backend behind answers from its past: no verdict)
            return not_following(status)
        if hold and ecdsa_ok is True and (h := await held(hold, i, signed, self)) is not None:
            return h  # (the mirror replayed the chain meanwhile, or the chain is not followed)
        o, mine = signed.order, None
        if ecdsa_ok is True and self.mirror is not None and self.mirror_ready():
            # (its account: all the mirror lacks; not while it replays: it would not learn)
            account = (o.maker, o.maker_token)
            if (under_way := self._first_reads.get(account)) is not None:
                await asyncio.wait([under_way])  # (never fails; a cancel of ours: not its)
                if self.mirror_ready() and (known := self.mirror.state(signed)) is not None:
                    return known
                if (status := self.chain_status()) not in FOLLOWING:  # (went down meanwhile)
                    return not_following(status)
            if account not in self._first_reads:
                mine = self._first_reads[account] = asyncio.get_running_loop().create_future()
        whose = None
        try:
            if spend is not None:
                if (who := spend(i)) is None:
                    self.throttled += 1
                    return Rejection.of(RejectionCode.THROTTLED).of_order(signed.hash)
                whose = SUBMITTER.set(who)  # (its read's task is made in this context)
            return await self._read_unless_down(signed, ecdsa_ok)
        except Exception as e:
            return read_failed(e)
        finally:
            if whose is not None:
                SUBMITTER.reset(whose)
            if mine is not None:
                del self._first_reads[(o.maker, o.maker_token)]
                mine.set_result(None)

    async def _read_unless_down(
        self, signed: SignedOrder, ecdsa_ok: bool | None
    ) -> OrderState | Rejection:
        """``_read``, or ``CHAIN_UNAVAILABLE`` as soon as the chain is marked unreachable
        or ``read_deadline`` passes (the batch's call is left to end by itself: the RPC
        client's timeout; the other orders it reads for keep waiting on it)."""
        read = asyncio.ensure_future(self._read(signed, ecdsa_ok))
        hung = None if self.chain_down is None else asyncio.ensure_future(self.chain_down().wait())
        waits = (read,) if hung is None else (read, hung)
        try:
            await asyncio.wait(
                waits, timeout=self.read_deadline, return_when=asyncio.FIRST_COMPLETED
            )
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
        self.late += 1
        return Rejection.of(
            RejectionCode.CHAIN_UNAVAILABLE,
            f"the chain did not answer this order's read within {self.read_deadline:g} s; "
            "try again",
        ).of_order(signed.hash)

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
        tip = self.chain_tip()
        if ecdsa_ok is not True and self.contract_sigs is not None:
            state = await self.contract_sigs.get(signed)  # the verdict is cached too
        else:
            state = await self.batcher.get(signed)
        sig_ok = ecdsa_ok or state.signature_valid
        if m is not None and sig_ok and self.mirror_ready() and m.head is not None:
            m.learn(signed, state, read_at)
        elif m is not None and sig_ok and read_at < tip and self.chain_status() in FOLLOWING:
            m.learn_later(signed, state, tip)  # (the replay under way: once it passes ``tip``)
        return state
