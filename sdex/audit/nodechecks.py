"""The audit's checks of nodes against the chain (pure, no I/O): reachable, watchers in
step with the head, books and claimed fills true, no real fill of an order it holds left out,
no fill after a node closed an order, no match a node settled after it took the order's soft
cancel, and nodes agreeing on their open orders. The
chain-only checks are in ``sdex.audit.checks``."""

from __future__ import annotations

from collections import defaultdict

from sdex.audit.facts import ClaimedFill, Facts
from sdex.audit.findings import CheckResult, Discrepancy, FactsIndex, hex0x
from sdex.chain import FillEvent, OrderStatus
from sdex.order import to_checksum


def check_nodes_reachable(facts: Facts, ix: FactsIndex) -> CheckResult:
    found = tuple(
        Discrepancy(n.error_kind, n.error, node=n.url) for n in facts.nodes if n.error is not None
    )
    return CheckResult("node_reachable", "node answered in full", len(facts.nodes), found)


def check_node_watchers(facts: Facts, ix: FactsIndex) -> CheckResult:
    """A node's watcher reached the chain head the audit started at, within the time the
    audit waited (its ``/health`` block checkpoint). A node that reports no checkpoint is not
    counted; one that could not be read is reported by ``node_reachable``."""
    checked, found = 0, []
    for n in facts.nodes:
        if n.block is None or n.target is None:
            continue
        checked += 1
        if n.block < n.target:
            found.append(
                Discrepancy(
                    "node_watcher_stalled",
                    f"its /health block checkpoint is {n.block}, {n.target - n.block} blocks "
                    f"behind the chain head {n.target} after {n.waited:.1f}s of waiting: its "
                    "book and fills lag the chain",
                    node=n.url,
                )
            )
    return CheckResult("node_watcher", "node's watcher is at the head", checked, tuple(found))


def check_node_closed(facts: Facts, ix: FactsIndex) -> CheckResult:
    """No fill of an order after a node reported it closed by its own decision (removed:
    dropped, killed, self-trade; cancelled by a soft cancel): its wallet was told the order
    is dead. The node's record counts what was filled or in flight (pendingMakerAmount) when
    it closed; every on-chain fill beyond that, in chain order, is flagged. A soft-cancelled
    order's record follows the chain's filled amount (cancel62: the cancel binds the nodes,
    not the chain), so a fill of it is flagged only where a node's record fell behind; a
    node's own settlement of it after the cancel is ``check_node_cancel_kept``'s."""
    by_order = _fills_by_order(facts)
    checked, found = 0, []
    for n in facts.nodes:
        for h, entry in n.closed.items():
            checked += 1
            accounted = entry.filled + entry.pending
            total = 0
            for e in by_order.get(h, []):
                total += e.maker_filled
                if total <= accounted:
                    continue
                why = f" ({entry.reason})" if entry.reason else ""
                found.append(
                    _of_fill(
                        "fill_after_node_closed",
                        f"the node reported the order {entry.status}{why} with {accounted} "
                        f"filled or in flight; the chain then filled {e.maker_filled} more "
                        f"(block {e.block_number}, taker {to_checksum(e.taker)})",
                        e,
                        n.url,
                    )
                )
    return CheckResult("node_closed", "no fill after a node closed it", checked, tuple(found))


def check_node_cancel_kept(facts: Facts, ix: FactsIndex) -> CheckResult:
    """A node that took a soft cancel settles no match of the order after it. Flagged: a
    fill of the order in a block after the node's cancel block (``cancelledAtBlock``) by a
    transaction its operator (``/health``'s ``operator``) signed with a nonce at or above
    the one the node had next at the cancel (``cancelledAtNonce``; a node that names none:
    the operator's transaction count at that block). Not the node's doing: a settlement it
    signed before the cancel (in flight: a lower nonce, or a replacement at that nonce),
    anyone else's fill (the wallet's own ``fillOrder``, another node's match)."""
    by_order = _fills_by_order(facts)
    chain, checked, found = facts.chain, 0, []
    for n in facts.nodes:
        if n.operator is None:
            continue  # (a node that names no operator: nothing to tell its settlements by)
        for h, c in n.closed.items():
            if c.status != "cancelled" or c.cancel_block is None:
                continue
            if c.cancel_block > chain.head:  # (read before the chain: never ahead of it)
                checked += 1
                found.append(
                    Discrepancy(
                        "node_cancel_block_ahead",
                        f"the node says it took the order's soft cancel at block "
                        f"{c.cancel_block}, beyond the chain's head {chain.head}",
                        order_hash=hex0x(h),
                        node=n.url,
                    )
                )
                continue
            nonce = c.cancel_nonce
            if nonce is None:
                nonce = chain.nonces_at.get((n.operator, c.cancel_block))
            if nonce is None:
                continue
            checked += 1
            for e in by_order.get(h, []):
                signer, used = chain.senders.get(e.tx_hash.lower(), ("", -1))
                if e.block_number <= c.cancel_block or signer != n.operator or used < nonce:
                    continue
                found.append(
                    _of_fill(
                        "node_settled_after_cancel",
                        f"the node took the order's soft cancel at block {c.cancel_block}, its "
                        f"operator's next nonce {nonce}; its operator "
                        f"{to_checksum(n.operator)} then "
                        f"settled {e.maker_filled} of it (block {e.block_number}, nonce {used})",
                        e,
                        n.url,
                    )
                )
    return CheckResult(
        "node_cancel_kept", "no match settled by a node after its cancel", checked, tuple(found)
    )


def _fills_by_order(facts: Facts) -> dict[bytes, list[FillEvent]]:
    by_order: dict[bytes, list[FillEvent]] = defaultdict(list)
    for e in facts.chain.fills:  # chain order
        by_order[e.order_hash].append(e)
    return by_order


def _of_fill(kind: str, why: str, e: FillEvent, node: str) -> Discrepancy:
    """A node's discrepancy about the chain's fill ``e``."""
    return Discrepancy(
        kind, why, tx_hash=e.tx_hash, log_index=e.log_index, order_hash=hex0x(e.order_hash),
        node=node,
    )  # fmt: skip


def check_node_books(facts: Facts, ix: FactsIndex) -> CheckResult:
    """A node's open orders are fillable on chain, and those and the ones it closed itself
    (removed, cancelled) have no more filled than the chain says."""
    checked, found = 0, []
    for n in facts.nodes:
        for h, entry in n.book.items():
            state = ix.states.get(h)
            if state is None:
                continue  # never the case for orders collected from the node
            checked += 1
            if state.status is not OrderStatus.FILLABLE:
                found.append(
                    Discrepancy(
                        "node_keeps_closed_order",
                        f"the node shows it {entry.status}; the chain says "
                        f"{state.status.name.lower()}",
                        order_hash=hex0x(h),
                        node=n.url,
                    )
                )
            if entry.filled > state.filled:
                found.append(
                    Discrepancy(
                        "node_filled_above_chain",
                        f"the node says {entry.filled} filled; the chain {state.filled}",
                        order_hash=hex0x(h),
                        node=n.url,
                    )
                )
        # and those it closed itself (a soft cancel, a drop): never more filled than the
        # chain (review20: a soft-cancelled order kept a fill a devnet reset undid)
        for h, closed in n.closed.items():
            state = ix.states.get(h)
            if state is None:
                continue
            checked += 1
            if closed.filled > state.filled:
                found.append(
                    Discrepancy(
                        "node_filled_above_chain",
                        f"the node says {closed.filled} filled ({closed.status}); "
                        f"the chain {state.filled}",
                        order_hash=hex0x(h),
                        node=n.url,
                    )
                )
    return CheckResult("node_book", "open orders are open on chain", checked, tuple(found))


_CLAIM_FIELDS = (
    ("orderHash", "order_hash"),
    ("blockNumber", "block_number"),
    ("maker", "maker"),
    ("taker", "taker"),
    ("makerAmountFilled", "maker_filled"),
    ("takerAmountFilled", "taker_filled"),
    ("feeRecipient", "fee_recipient"),
    ("feePaid", "fee"),
)


def check_node_fills(facts: Facts, ix: FactsIndex) -> CheckResult:
    """Every fill a node claims is an OrderFilled log: same tx, log index, order and amounts."""
    on_chain = {(e.tx_hash.lower(), e.log_index): e for e in facts.chain.fills}
    checked, found = 0, []
    for n in facts.nodes:
        for c in n.fills:
            checked += 1
            e = on_chain.get((c.tx_hash.lower(), c.log_index))
            if e is None:
                kind = "node_phantom_fill"
                why = (
                    f"the node claims a fill of {c.maker_filled} of order {hex0x(c.order_hash)}; "
                    "the chain has no such OrderFilled log"
                )
            else:
                diff = _claim_diff(c, e)
                if not diff:
                    continue
                kind = "node_fill_mismatch"
                why = "the node's record differs from the log: " + "; ".join(diff)
            found.append(
                Discrepancy(
                    kind,
                    why,
                    tx_hash=c.tx_hash,
                    log_index=c.log_index,
                    order_hash=hex0x(c.order_hash),
                    node=n.url,
                )
            )
    return CheckResult("node_fills", "claimed fills are on chain", checked, tuple(found))


def check_node_missing_fills(facts: Facts, ix: FactsIndex) -> CheckResult:
    """A node lists every fill of the orders it holds: each ``OrderFilled`` log of such an
    order up to the node's checkpoint (the head the audit waited for, when the node reports
    none) is in its ``GET /v1/fills``. A node that hides a real fill tells its wallets an
    order is less filled than it is."""
    held: dict[str, set[bytes]] = defaultdict(set)
    for copy in facts.orders:
        held[copy.source].add(copy.signed.hash)
    checked, found = 0, []
    for n in facts.nodes:
        if n.error is not None:
            continue  # reported by node_reachable; what was read may be partial
        upto = n.block if n.block is not None else n.target
        if upto is None:
            continue
        listed = {(c.tx_hash.lower(), c.log_index) for c in n.fills}
        mine = held.get(n.url, set())
        for e in facts.chain.fills:
            if e.order_hash not in mine or e.block_number > upto:
                continue
            checked += 1
            if (e.tx_hash.lower(), e.log_index) in listed:
                continue
            found.append(
                Discrepancy(
                    "node_missing_fill",
                    f"the node holds order {hex0x(e.order_hash)} but does not list its fill of "
                    f"{e.maker_filled} in block {e.block_number} (its checkpoint is {upto})",
                    tx_hash=e.tx_hash,
                    log_index=e.log_index,
                    order_hash=hex0x(e.order_hash),
                    node=n.url,
                )
            )
    return CheckResult(
        "node_missing_fills", "fills of the orders a node holds are listed", checked, tuple(found)
    )


def _claim_diff(c: ClaimedFill, e: FillEvent) -> list[str]:
    out = []
    for name, attr in _CLAIM_FIELDS:
        mine, theirs = getattr(e, attr), getattr(c, attr)
        if mine != theirs:
            shown = (hex0x(theirs), hex0x(mine)) if isinstance(mine, bytes) else (theirs, mine)
            out.append(f"{name} {shown[0]} (chain {shown[1]})")
    return out


def check_books_agree(facts: Facts, ix: FactsIndex) -> CheckResult:
    """The nodes that answered hold the same open orders."""
    nodes = [n for n in facts.nodes if n.error is None]
    if len(nodes) < 2:
        return CheckResult("books_agree", "nodes hold the same open orders", 0, ())
    union: set[bytes] = set().union(*(n.book.keys() for n in nodes))
    found = []
    for h in sorted(union):
        holders = [n.url for n in nodes if h in n.book]
        if len(holders) != len(nodes):
            others = [n.url for n in nodes if h not in n.book]
            found.append(
                Discrepancy(
                    "books_disagree",
                    f"open at {', '.join(holders)}; not at {', '.join(others)}",
                    order_hash=hex0x(h),
                )
            )
    return CheckResult("books_agree", "nodes hold the same open orders", len(union), tuple(found))
