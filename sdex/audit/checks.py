"""The audit's checks: pure functions from ``Facts`` to discrepancies, no I/O.

Each check looks at one kind of subject (a fill, an order, a settlement transaction, a node's
open order, ...) and returns a ``CheckResult``: how many subjects it checked and every
discrepancy it found, each with a stable ``kind``. The expectations are the contract's own
rules (contracts/Exchange.sol, contracts/libraries/LibFill.sol):

- ``fillOrder`` emits one ``OrderFilled`` then pays: maker → caller ``makerFilled`` of
  makerToken, caller → maker ``takerFilled - fee`` and caller → feeRecipient ``fee`` of
  takerToken; ``takerFilled = ceil(makerFilled * takerAmount / makerAmount)``.
- ``matchOrders`` (and each settled pair of ``batchMatchOrders``) emits two adjacent
  ``OrderFilled`` (resting ``left`` first, then ``right``) then pays each maker its proceeds
  minus its fee, and each fee recipient its fee, in the maker's takerToken, from the other maker.
- ``_pay`` skips zero amounts, so no zero-amount Transfer is expected (or counted).
- fee = ``floor(feeAmount * makerFilled / makerAmount)``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

from sdex.audit.facts import Facts, OrderCopy, Transfer
from sdex.audit.findings import CheckResult, Discrepancy, FactsIndex, about, hex0x, per_fill
from sdex.audit.nodechecks import (
    check_books_agree,
    check_node_books,
    check_node_cancel_kept,
    check_node_closed,
    check_node_fills,
    check_node_missing_fills,
    check_node_watchers,
    check_nodes_reachable,
)
from sdex.chain import FillEvent
from sdex.errors import SignatureError
from sdex.fillmath import mul_div_ceil, mul_div_floor
from sdex.order import ZERO_ADDRESS, Order, recover_signer
from sdex.order import to_checksum as _cs

# -- fills against their signed orders -----------------------------------------------------


def check_order_hashes(facts: Facts, ix: FactsIndex) -> CheckResult:
    """A source that files an order under a hash must give an order with that hash."""
    named, found = 0, []
    for c in facts.orders:
        if c.claimed_hash is None:
            continue
        named += 1
        if c.claimed_hash != c.signed.hash:
            found.append(
                Discrepancy(
                    "hash_mismatch",
                    f"the order given under {hex0x(c.claimed_hash)} hashes to "
                    f"{c.signed.hash_hex} under the deployment's EIP-712 domain",
                    order_hash=hex0x(c.claimed_hash),
                    source=c.source,
                )
            )
    return CheckResult("order_hash", "order hashes to its filed hash", named, tuple(found))


def check_signatures(facts: Facts, ix: FactsIndex) -> CheckResult:
    """Each distinct (order, signature): ECDSA recovers the maker, or, for a maker with code,
    the chain's EIP-1271 verdict (``getOrderStates.signatureValid``) says valid."""
    sources: dict[tuple[bytes, bytes], list[OrderCopy]] = defaultdict(list)
    for c in facts.orders:
        sources[(c.signed.hash, c.signed.signature)].append(c)
    found = []
    for (h, sig), copies in sources.items():
        maker = copies[0].signed.order.maker
        problem = _signature_problem(facts, h, sig, maker)
        if problem is not None:
            found.append(
                Discrepancy(
                    "bad_signature",
                    problem,
                    order_hash=hex0x(h),
                    source=", ".join(sorted({c.source for c in copies})),
                )
            )
    return CheckResult("signature", "the maker's signature", len(sources), tuple(found))


def _signature_problem(facts: Facts, h: bytes, sig: bytes, maker: str) -> str | None:
    try:
        signer = recover_signer(h, sig)
    except SignatureError as e:
        why = str(e)
    else:
        if signer == maker:
            return None
        why = f"the signature recovers to {_cs(signer)}, not the maker {_cs(maker)}"
    if maker in facts.chain.contracts:
        state = facts.chain.states.get((h, sig))
        if state is None:
            return f"no chain verdict on the contract maker {_cs(maker)}'s signature"
        if state.signature_valid:
            return None
        return f"the contract maker {_cs(maker)} rejects the signature (EIP-1271)"
    return why


def check_orders_found(facts: Facts, ix: FactsIndex) -> CheckResult:
    """Every OrderFilled names an order some source holds, signed, with that hash."""
    found = []
    for e in facts.chain.fills:
        if e.order_hash in ix.copies:
            continue
        offered = [c for c in facts.orders if c.claimed_hash == e.order_hash]
        why = f"no order source holds the signed order {hex0x(e.order_hash)}"
        if offered:
            sources = ", ".join(sorted({c.source for c in offered}))
            why += f" ({sources} gave an order under this hash that hashes otherwise)"
        if e.tx_hash in facts.chain.undecoded:
            why += f"; {facts.chain.undecoded[e.tx_hash]}"
        elif e.tx_hash in facts.chain.decoded:
            why += (
                f"; the calldata of its transaction ({facts.chain.decoded[e.tx_hash]}) holds "
                "no order with this hash"
            )
        found.append(about(e, "missing_order", why))
    return CheckResult(
        "order_found", "a signed order for each fill", len(facts.chain.fills), tuple(found)
    )


def check_parties(facts: Facts, ix: FactsIndex) -> CheckResult:
    """The event's maker is the order's; a named taker is the counterparty."""

    def problems(e: FillEvent, o: Order) -> Iterable[tuple[str, str]]:
        if e.maker != o.maker:
            yield (
                "maker_mismatch",
                f"the event's maker {_cs(e.maker)} is not the order's {_cs(o.maker)}",
            )
        if o.taker != ZERO_ADDRESS and e.taker != o.taker:
            yield (
                "taker_not_allowed",
                f"filled by {_cs(e.taker)}; the order allows only {_cs(o.taker)}",
            )

    n, found = per_fill(facts, ix, problems)
    return CheckResult("parties", "event maker/taker = order's", n, found)


def check_limit_prices(facts: Facts, ix: FactsIndex) -> CheckResult:
    """The maker got at least its price; where its own price applies, exactly the contract's
    rounding (``ceil(makerFilled * takerAmount / makerAmount)``)."""

    def problems(e: FillEvent, o: Order) -> Iterable[tuple[str, str]]:
        mf, tf = e.maker_filled, e.taker_filled
        if tf * o.maker_amount < mf * o.taker_amount:
            yield (
                "price_violated",
                f"gave {mf} for {tf}: below the limit {o.taker_amount}/{o.maker_amount}",
            )
        elif (e.tx_hash, e.log_index) in ix.resting_or_alone:
            want = mul_div_ceil(mf, o.taker_amount, o.maker_amount)
            if tf != want:
                yield (
                    "amounts_off_formula",
                    f"{mf} at the order's own price pays {want}, the event says {tf}",
                )

    n, found = per_fill(facts, ix, problems)
    return CheckResult("limit_price", "each maker's limit price held", n, found)


def check_fees(facts: Facts, ix: FactsIndex) -> CheckResult:
    """fee = floor(feeAmount * makerFilled / makerAmount), paid to the order's feeRecipient."""

    def problems(e: FillEvent, o: Order) -> Iterable[tuple[str, str]]:
        want = mul_div_floor(o.fee_amount, e.maker_filled, o.maker_amount)
        if e.fee != want:
            yield "fee_wrong", f"fee {e.fee}; the order's terms give {want}"
        if e.fee_recipient != o.fee_recipient:
            yield (
                "fee_recipient_wrong",
                f"fee paid to {_cs(e.fee_recipient)}, not the order's {_cs(o.fee_recipient)}",
            )

    n, found = per_fill(facts, ix, problems)
    return CheckResult("fee", "fee amount and recipient", n, found)


def check_fillable(facts: Facts, ix: FactsIndex) -> CheckResult:
    """No fill after the order's cancel (by hash or by salt) or at/after its expiry."""
    cancelled_at: dict[bytes, tuple[int, int, str]] = {}
    for c in facts.chain.cancels:
        cancelled_at.setdefault(c.order_hash, (c.block_number, c.log_index, c.tx_hash))
    salt_cancels = defaultdict(list)
    for s in facts.chain.salt_cancels:
        salt_cancels[s.maker].append(s)

    def problems(e: FillEvent, o: Order) -> Iterable[tuple[str, str]]:
        here = (e.block_number, e.log_index)
        c = cancelled_at.get(e.order_hash)
        if c is not None and c[:2] < here:
            yield "fill_after_cancel", f"filled after its cancel in tx {c[2]}"
        for s in salt_cancels.get(o.maker, []):
            if (s.block_number, s.log_index) < here and o.salt < s.min_valid_salt:
                yield (
                    "fill_after_cancel",
                    f"filled after cancelOrdersUpTo({s.min_valid_salt}) in tx {s.tx_hash}",
                )
                break
        t = facts.chain.block_times.get(e.block_number)
        if t is not None and t >= o.expiry:
            yield "fill_after_expiry", f"filled at block time {t}; the order expired at {o.expiry}"

    n, found = per_fill(facts, ix, problems)
    return CheckResult("fillable", "open on chain when filled", n, found)


def check_overfill(facts: Facts, ix: FactsIndex) -> CheckResult:
    """Per order: the events' fills sum to at most makerAmount, and to the chain's fill state."""
    totals: dict[bytes, int] = defaultdict(int)
    for e in facts.chain.fills:
        totals[e.order_hash] += e.maker_filled
    checked, found = 0, []
    for h, total in totals.items():
        o = ix.order(h)
        if o is None:
            continue
        checked += 1
        if total > o.maker_amount:
            found.append(
                Discrepancy(
                    "overfilled",
                    f"filled {total} in all, beyond makerAmount {o.maker_amount}",
                    order_hash=hex0x(h),
                )
            )
        state = ix.states.get(h)
        if state is not None and state.filled != total:
            found.append(
                Discrepancy(
                    "fill_state_mismatch",
                    f"the chain's fill state is {state.filled}; its OrderFilled events sum to "
                    f"{total}",
                    order_hash=hex0x(h),
                )
            )
    return CheckResult("overfill", "sum of fills ≤ makerAmount", checked, tuple(found))


def check_matches(facts: Facts, ix: FactsIndex) -> CheckResult:
    """A match's two events mirror each other and trade one pair in opposite directions."""
    checked, found = 0, []
    for unit in ix.units:
        if len(unit) != 2:
            continue
        checked += 1
        left, right = unit
        why = []
        if (left.taker, right.taker) != (right.maker, left.maker):
            why.append("the two events do not name each other's maker as taker")
        if (left.maker_filled, left.taker_filled) != (right.taker_filled, right.maker_filled):
            why.append("the amounts one side gave are not what the other got")
        lo, ro = ix.order(left.order_hash), ix.order(right.order_hash)
        if (
            lo is not None
            and ro is not None
            and (lo.maker_token, lo.taker_token) != (ro.taker_token, ro.maker_token)
        ):
            why.append("the orders do not trade the same pair in opposite directions")
        if why:
            detail = "; ".join(why) + f" (right order {hex0x(right.order_hash)})"
            found.append(about(left, "match_inconsistent", detail))
    return CheckResult("match", "matched pairs mirror each other", checked, tuple(found))


def expected_transfers(unit: Sequence[FillEvent], orders: Sequence[Order]) -> list[Transfer]:
    """The Transfer logs one settlement must emit (Exchange.sol ``fillOrder`` and
    ``_executeMatch``), zero amounts left out as ``_pay`` skips them."""
    out: list[Transfer] = []
    if len(unit) == 1:  # fillOrder: the maker gives to the caller
        e, o = unit[0], orders[0]
        out.append(Transfer(o.maker_token, e.maker, e.taker, e.maker_filled))
    # Each order's maker receives its proceeds minus its fee, and its fee recipient the fee,
    # in its takerToken from the counterparty (the caller, or the other order's maker).
    for e, o in zip(unit, orders, strict=True):
        out.append(Transfer(o.taker_token, e.taker, e.maker, e.taker_filled - e.fee))
        out.append(Transfer(o.taker_token, e.taker, e.fee_recipient, e.fee))
    return [t for t in out if t.amount != 0]


def check_transfers(facts: Facts, ix: FactsIndex) -> CheckResult:
    """Per settlement transaction: its ERC-20 Transfer logs are exactly the fills' movements
    (as multisets of (token, from, to, amount), zero amounts ignored)."""
    by_tx: dict[str, list[tuple[FillEvent, ...]]] = defaultdict(list)
    for unit in ix.units:
        by_tx[unit[0].tx_hash].append(unit)
    checked, found = 0, []
    for tx, units in by_tx.items():
        expected: Counter[Transfer] = Counter()
        known = True
        for unit in units:
            orders = [ix.order(e.order_hash) for e in unit]
            if any(o is None for o in orders):
                known = False  # tokens unknown; the missing order is reported already
                break
            expected.update(expected_transfers(unit, [o for o in orders if o is not None]))
        if not known:
            continue
        checked += 1
        logs = facts.chain.transfers.get(tx)
        if logs is None:
            found.append(Discrepancy("transfers_mismatch", "no receipt read", tx_hash=tx))
            continue
        actual = Counter(t for t in logs if t.amount != 0)
        if actual != expected:
            missing, extra = expected - actual, actual - expected
            why = []
            if missing:
                why.append("expected but not seen: " + _transfers(missing))
            if extra:
                why.append("seen but not expected: " + _transfers(extra))
            found.append(Discrepancy("transfers_mismatch", "; ".join(why), tx_hash=tx))
    return CheckResult("transfers", "Transfer logs = fills' amounts", checked, tuple(found))


def _transfers(c: Counter[Transfer]) -> str:
    return ", ".join(
        f"{t.amount} of {_cs(t.token)} {_cs(t.sender)}→{_cs(t.recipient)}"
        + (f" ×{n}" if n > 1 else "")
        for t, n in sorted(c.items(), key=lambda kv: (kv[0].token, kv[0].sender, kv[0].amount))
    )


# -- nodes against the chain ---------------------------------------------------------------


CHECKS: tuple[Callable[[Facts, FactsIndex], CheckResult], ...] = (
    check_orders_found,
    check_order_hashes,
    check_signatures,
    check_parties,
    check_limit_prices,
    check_fees,
    check_fillable,
    check_overfill,
    check_matches,
    check_transfers,
    check_nodes_reachable,
    check_node_watchers,
    check_node_books,
    check_node_closed,
    check_node_cancel_kept,
    check_node_fills,
    check_node_missing_fills,
    check_books_agree,
)


def run_checks(facts: Facts) -> list[CheckResult]:
    """Every check over ``facts``, in the order the report shows them."""
    ix = FactsIndex(facts)
    return [check(facts, ix) for check in CHECKS]
