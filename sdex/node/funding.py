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
book does not hold: in doubt, signed. The settlements ahead are not walked unless a maker is
short of the most they may take: what they take from and give each account is kept as they
come and go (``SignedOut.pays``, ``OwnReceipts.paid`` and ``got``; funds67)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from sdex.matching.match import Match
from sdex.mirror import Mirror
from sdex.order import SignedOrder
from sdex.settlement.signedout import SignedOut

Account = tuple[str, str]


def transfers(m: Match) -> tuple[tuple[SignedOrder, SignedOrder, int], ...]:
    """(payer's order, payee's order, amount) of both of ``m``'s transfers: each maker pays
    the amount of his maker token to the other maker and the other's fee recipient."""
    return ((m.resting, m.incoming, m.left_filled),
            (m.incoming, m.resting, m.right_filled))  # fmt: skip


def _need(so: SignedOrder, amount: int, mirror: Mirror) -> int:
    """What ``so``'s maker pays in a match of ``amount``: less if the chain filled the order
    meanwhile (the contract fills what is left)."""
    return min(amount, max(0, so.order.maker_amount - mirror.filled_of(so.hash)))


def unpaid(
    batch: Sequence[Match],
    ahead: SignedOut | Iterable[Match],
    mirror: Mirror,
    confirmed: Callable[[bytes], int | None] = lambda _: None,
) -> set[int]:
    """The indexes of ``batch``'s matches a maker's funds (as above) fall short of, its
    matches taken in order; ``ahead``: the settlements signed before it, not reported
    (``Settler.signed_out``); ``confirmed``: an order's filled amount the book has confirmed
    (None: not held)."""
    if not isinstance(ahead, SignedOut):
        ahead = SignedOut(ahead)
    needs: dict[Account, int] = {}
    for m in batch:
        for so, _, amount in transfers(m):
            key = (so.order.maker, so.order.maker_token)
            needs[key] = needs.get(key, 0) + amount
    own = mirror.own
    # Each maker less the most those ahead may take (mined ones' transfers, signed ones'
    # payments in full) against all of hers at once: she can pay every one of hers whatever
    # comes before, as the chain runs them. Only one short of that is looked at closer.
    left: dict[Account, int] = {}
    for key, need in needs.items():
        spendable = mirror.spendable(key)  # (unknown: in doubt, signed)
        if spendable is None:
            continue
        spendable -= own.paid.get(key, 0)
        if spendable - ahead.pays.get(key, 0) < need:
            left[key] = spendable + own.got.get(key, 0)
    if not left or own.stubs:  # (stubs: settlements ahead whose transfers are not kept)
        return set()  # (the usual case: each maker can pay all of hers)
    for m in ahead.values():  # (one short: the matches signed ahead, at most those in flight)
        for so, payee, amount in transfers(m):
            token = so.order.maker_token
            if (key := (so.order.maker, token)) in left:
                book = confirmed(so.hash)  # (their blocks not applied, as above)
                if book is not None and mirror.filled_of(so.hash) <= book:
                    left[key] -= _need(so, amount, mirror)
            for to in {payee.order.maker, payee.order.fee_recipient}:
                if (to, token) in left:
                    left[to, token] += amount
    out: set[int] = set()
    for i, m in enumerate(batch):
        pays = [(so, _need(so, amount, mirror)) for so, _, amount in transfers(m)]
        if any(left.get((so.order.maker, so.order.maker_token), n) < n for so, n in pays):
            out.add(i)  # (skipped by the chain: it pays nothing, credits nothing)
            continue
        for so, n in pays:
            key = (so.order.maker, so.order.maker_token)
            if key in left:
                left[key] -= n
        for so, payee, amount in transfers(m):
            token = so.order.maker_token
            for to in {payee.order.maker, payee.order.fee_recipient}:
                if (to, token) in left:
                    left[to, token] += amount
    return out
