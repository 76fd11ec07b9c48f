"""The matches the settler signed and has not reported yet (``SignedOut``), with what each
account pays in them kept as they come and go: the chain runs them before a batch signed
now, so whether its makers can pay it (``sdex.node.funding``) reads that total instead of
walking every match in flight twice a batch (funds67); only a maker short of it is looked
at closer."""

from __future__ import annotations

from collections.abc import Iterable

from sdex.matching.match import Match
from sdex.mirror.own import Account, add_to


class SignedOut(dict[int, Match]):
    """Matches by ``id``, with ``pays``: what each account pays in them, in full (the most
    they may take from it). Changed through ``[k] = m``, ``update``, ``del``, ``pop`` and
    ``clear`` only."""

    def __init__(self, matches: Iterable[Match] = ()) -> None:
        super().__init__()
        self.pays: dict[Account, int] = {}
        self.update(enumerate(matches))  # (the settler's: by ``id``)

    def __setitem__(self, key: int, m: Match) -> None:
        self.pop(key, None)  # (the same id again: counted once)
        super().__setitem__(key, m)
        pays = self.pays
        o, amount = m.resting.order, m.left_filled
        k = (o.maker, o.maker_token)
        pays[k] = pays.get(k, 0) + amount
        o, amount = m.incoming.order, m.right_filled
        k = (o.maker, o.maker_token)
        pays[k] = pays.get(k, 0) + amount

    def update(self, items: Iterable[tuple[int, Match]] = (), /) -> None:  # type: ignore[override]
        for key, m in items:
            self[key] = m

    def __delitem__(self, key: int) -> None:
        self._uncount(super().pop(key))

    def pop(self, key: int, default: Match | None = None) -> Match | None:  # type: ignore[override]
        m = super().pop(key, None)
        if m is None:
            return default
        self._uncount(m)
        return m

    def clear(self) -> None:
        super().clear()
        self.pays.clear()

    def _uncount(self, m: Match) -> None:
        o = m.resting.order
        add_to(self.pays, (o.maker, o.maker_token), -m.left_filled)
        o = m.incoming.order
        add_to(self.pays, (o.maker, o.maker_token), -m.right_filled)
