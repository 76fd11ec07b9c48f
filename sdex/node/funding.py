"""Whether a batch's makers can pay its matches, as the node's mirror shows their funds
(``unpaid``; memory only, no chain read): checked right before the batch is signed (take65).

A match waits in the settler's queue while every settlement slot is held; its maker may
move his tokens away meanwhile (or lower his allowance). Signed, its transfer fails on
chain: a lone match reverts, a batch runs again one match per call frame past it, the
operator paying for both. Withdrawn instead (``sdex.settlement.take``), the other order's
amount goes back to the book, and the maker's order is judged by his funds as any.

The chain runs a batch's matches in order: those a maker's funds pay go first, and one
they cannot pay is skipped. So a batch's matches are taken in order, each paid from what
is left of its makers' funds once the matches before it in the batch (those not withdrawn)
paid theirs and credited what they pay in. Differential, and in doubt it signs: a match is
withdrawn only when the chain would refuse it on what the node knows. Its funds are the
mirror's (at the head it applied), plus everything that may reach the maker before the
batch runs: each settlement of the node's signed earlier and not yet reported
(``Settler.signed_out``) and each one mined whose block the mirror has not applied
(``Mirror.own``), in full, as counterparty and as fee recipient; less what those take from
him where the mirror's funds cannot count it yet (settle65: left out, a maker who moved all
but one match's tokens away had his next match signed, and it reverted behind the one in
flight, the operator paying ~84k gas): a mined one's transfers from him, and a signed one's
payment when the order it pays for shows no more filled in the mirror than the book has
confirmed (so its block is not applied: a block the mirror applied before its receipt came,
the watcher waiting ``EXPECT_PATIENCE`` s, is in the mirror's funds already, and counted
again it would withdraw a match the chain fills). An account the mirror does not hold, a
settlement held ahead without its transfers (``Stub``), or an order of one in flight the
book does not hold: in doubt, signed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.order import SignedOrder

Account = tuple[str, str]


def _pays(m: Match) -> tuple[tuple[SignedOrder, SignedOrder, int], ...]:
    """(payer's order, payee's order, amount) of both of ``m``'s transfers: each maker pays
    the amount of his maker token to the other maker and the other's fee recipient."""
    return ((m.resting, m.incoming, m.amounts.left_filled),
            (m.incoming, m.resting, m.amounts.right_filled))  # fmt: skip


def _need(so: SignedOrder, amount: int, mirror: Mirror) -> int:
    """What ``so``'s maker pays in a match of ``amount``: less if the chain filled the order
    meanwhile (the contract fills what is left)."""
    return min(amount, max(0, so.order.maker_amount - mirror.filled_of(so.hash)))


def unpaid(
    batch: Sequence[Match],
    ahead: Iterable[Match],
    mirror: Mirror,
    confirmed: Callable[[bytes], int | None] = lambda _: None,
) -> set[int]:
    """The indexes of ``batch``'s matches a maker's funds (as above) fall short of, its
    matches taken in order; ``ahead``: the settlements signed before it, not reported;
    ``confirmed``: an order's filled amount the book has confirmed (None: not held)."""
    needs: dict[Account, int] = {}
    for m in batch:
        for so, _, amount in _pays(m):
            key = (so.order.maker, so.order.maker_token)
            needs[key] = needs.get(key, 0) + amount
    left: dict[Account, int] = {}
    for key in needs:
        spendable = mirror.spendable(key)
        if spendable is not None:  # (unknown: in doubt, signed)
            left[key] = spendable
    ahead = list(ahead)
    most = dict(left)  # (less the most those ahead may take: no mirror read per order)
    _taken(most, (), mirror, confirmed)  # (mined ones': their transfers)
    for m in ahead:
        for o, amount in ((m.resting.order, m.left_filled), (m.incoming.order, m.right_filled)):
            if (o.maker, o.maker_token) in most:
                most[o.maker, o.maker_token] -= amount
    if all(most.get(k, need) >= need for k, need in needs.items()):
        return set()  # (the usual case: each maker can pay all of his at once)
    if mirror.own.stubs:  # (settlements ahead of the mirror whose transfers are not kept)
        return set()
    _taken(left, ahead, mirror, confirmed)
    for r in mirror.own.values():  # (mined, the mirror not at their block yet)
        for token, _, to, value in r.transfers:
            if (to, token) in left:
                left[to, token] += value
    _credit(left, ahead)
    out: set[int] = set()
    for i, m in enumerate(batch):
        pays = [(so, _need(so, amount, mirror)) for so, _, amount in _pays(m)]
        if any(left.get((so.order.maker, so.order.maker_token), n) < n for so, n in pays):
            out.add(i)  # (skipped by the chain: it pays nothing, credits nothing)
            continue
        for so, n in pays:
            key = (so.order.maker, so.order.maker_token)
            if key in left:
                left[key] -= n
        _credit(left, (m,))
    return out


def _taken(
    left: dict[Account, int],
    ahead: Iterable[Match],
    mirror: Mirror,
    confirmed: Callable[[bytes], int | None],
) -> None:
    """Take off ``left`` what the settlements ahead of the mirror take from its accounts:
    those mined (their transfers), and those signed whose order shows no more filled in
    the mirror than the book has confirmed (their blocks not applied; in doubt, nothing)."""
    for r in mirror.own.values():
        for token, payer, _, value in r.transfers:
            if (payer, token) in left:
                left[payer, token] -= value
    for m in ahead:
        for so, _, amount in _pays(m):
            key = (so.order.maker, so.order.maker_token)
            book = confirmed(so.hash) if key in left else None
            if book is not None and mirror.filled_of(so.hash) <= book:
                left[key] -= _need(so, amount, mirror)


def _credit(left: dict[Account, int], matches: Iterable[Match]) -> None:
    """Add to ``left`` what ``matches`` may pay its accounts (in full, to each payee)."""
    for m in matches:
        for so, payee, amount in _pays(m):
            token = so.order.maker_token
            for to in {payee.order.maker, payee.order.fee_recipient}:
                if (to, token) in left:
                    left[to, token] += amount
