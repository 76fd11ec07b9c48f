"""The matches the settler signed and has not reported yet (``SignedOut``), with what they
move per account kept as they come and go: the chain runs them before a batch signed now,
so whether its makers can pay it (``sdex.node.funding``) reads these totals instead of
walking every match in flight (funds67: that walk, twice a batch, cost more than the
rest of the check)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sdex.matching.match import Match
from sdex.mirror.own import Account, add_to
from sdex.order import SignedOrder


def transfers(m: Match) -> Iterator[tuple[SignedOrder, SignedOrder, int]]:
    """(payer's order, payee's order, amount) of both of ``m``'s transfers: each maker pays
    the amount of his maker token to the other maker and the other's fee recipient."""
    yield m.resting, m.incoming, m.left_filled
    yield m.incoming, m.resting, m.right_filled


class SignedOut(dict[int, Match]):
    """Matches by ``id``, with ``pays`` (what each account pays in them, in full), ``gets``
    (what they may pay each account: in full, to each payee, maker and fee recipient) and
    ``by_payer`` (each account's payments: (order, amount) by (match id, side)). Changed
    through ``[k] = m``, ``update``, ``del``, ``pop`` and ``clear`` only."""

    def __init__(self, matches: Iterable[Match] = ()) -> None:
        super().__init__()
        self.pays: dict[Account, int] = {}
        self.gets: dict[Account, int] = {}
        self.by_payer: dict[Account, dict[tuple[int, int], tuple[SignedOrder, int]]] = {}
        self.update(enumerate(matches))  # (the settler's: by ``id``)

    def __setitem__(self, key: int, m: Match) -> None:
        self.pop(key, None)  # (the same id again: counted once)
        super().__setitem__(key, m)
        self._count(key, m, 1)

    def update(self, items: Iterable[tuple[int, Match]] = (), /) -> None:  # type: ignore[override]
        for key, m in items:
            self[key] = m

    def __delitem__(self, key: int) -> None:
        self._count(key, super().pop(key), -1)

    def pop(self, key: int, default: Match | None = None) -> Match | None:  # type: ignore[override]
        m = super().pop(key, None)
        if m is None:
            return default
        self._count(key, m, -1)
        return m

    def clear(self) -> None:
        super().clear()
        self.pays.clear()
        self.gets.clear()
        self.by_payer.clear()

    def _count(self, key: int, m: Match, sign: int) -> None:
        for side, (so, payee, amount) in enumerate(transfers(m)):
            token = so.order.maker_token
            payer = (so.order.maker, token)
            add_to(self.pays, payer, sign * amount)
            for to in {payee.order.maker, payee.order.fee_recipient}:
                add_to(self.gets, (to, token), sign * amount)
            sides = self.by_payer.setdefault(payer, {})
            if sign > 0:
                sides[key, side] = (so, amount)
            else:
                sides.pop((key, side), None)
                if not sides:
                    del self.by_payer[payer]
