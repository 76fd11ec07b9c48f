"""An order's rules, looked at before its signature and chain state: schema, amounts, a taker
that can trade, expiry by the chain's clock, listed tokens, the node's fee, minimums, and the
book's bounds of open orders (``Intake``'s first step, ``check_offchain``); once its chain
state is known, its maker's funds against the minimums (``short_of_funds``, ``admit``)."""

from __future__ import annotations

from collections.abc import Callable

from sdex.chain import OrderState
from sdex.errors import OrderParseError
from sdex.ingest.limits import Limits
from sdex.ingest.rejections import Rejection, RejectionCode, restricted_full
from sdex.ingest.verdicts import Accepted, Known, taker_never_trades
from sdex.model import MAX_SIGNATURE_BYTES
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder, to_checksum, validity_errors

SIGNATURE_HEX = 2 + 2 * MAX_SIGNATURE_BYTES
"""The longest ``signature`` string taken: ``0x`` and ``MAX_SIGNATURE_BYTES`` in hex."""


class OrderRules:
    """The rules an order is held to for this node's Exchange domain, its listed tokens, fee,
    minimums and book bounds (``Intake``'s, which adds the signature and the chain)."""

    def __init__(
        self,
        domain: Domain,
        known: Callable[[bytes], bool],
        open_count: Callable[[str | None], int],
        now: Callable[[], int],
        limits: Limits | None = None,
        tokens: frozenset[str] | None = None,
        fee: tuple[str, int] | None = None,
        account_open: Callable[[str, str], int] | None = None,
        refresh: Callable[[], None] | None = None,
        restricted_count: Callable[[str | None], int] | None = None,
        restricted_to: Callable[[str], int] | None = None,
    ) -> None:
        self.domain = domain
        self.account_open = account_open or (lambda maker, token: 0)
        """Open orders of ``maker`` selling ``token`` (each needs the token's minimum)."""
        self.refresh = refresh or (lambda: None)
        """Bring the open counts up to the book (orders that became ``unfunded`` since the
        last block leave the tradable count): called only at the total bound."""
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
                    f"this node asks feeRecipient {to_checksum(recipient)} and feeAmount >= {need} "
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
