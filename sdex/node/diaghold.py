"""Matches held back for a diagnosis (chaos66): while the chain read of a failed
settlement's orders is under way (``NodeSettlement._diagnose``), the settler signs no queued
match of those orders (``Settler.held``). Node 2 signed a second match of an ask 10 ms after
the first reverted, before the diagnosis had read the chain: its maker had moved her WETH
away, the mirror not yet at that block, and the second reverted as well, the operator's gas
paid for a revert the diagnosis would have foreseen. When the diagnosis ends the held
matches are signed, or withdrawn if it found an order of theirs at fault (``_doomed``); a
hold lasts ``HOLD_BOUND`` seconds at most."""

from __future__ import annotations

import time
from collections.abc import Iterable
from collections.abc import Set as AbstractSet

from sdex.chain.tx import lone_tx_root
from sdex.matching.match import Match
from sdex.node.gate import EVERY_ORDER
from sdex.node.settlefills import NodeFills
from sdex.order import SignedOrder
from sdex.settlement.outcome import SettledMatch

HOLD_BOUND = 10.0
"""Seconds at most a queued match of an order whose failed settlement is being diagnosed is
held back (``_held``): a diagnosis slow behind the store or the chain holds none for good."""


def payer(so: SignedOrder) -> tuple[str, str]:
    """The (maker, token) account an order's fills are paid from."""
    return so.order.maker, so.order.maker_token


def held_amounts(matches: Iterable[Match]) -> dict[tuple[str, str], int]:
    """What ``matches`` hold of each maker's funds, by (maker, token)."""
    out: dict[tuple[str, str], int] = {}
    for m in matches:
        for so, amount in (
            (m.resting, m.amounts.left_filled),
            (m.incoming, m.amounts.right_filled),
        ):
            out[payer(so)] = out.get(payer(so), 0) + amount
    return out


class NodeHolds(NodeFills):
    """The queued matches held back while a failed settlement of their orders is diagnosed."""

    _holds: tuple[tuple[int, frozenset[bytes], float], ...] = ()
    """For each failed settlement's diagnosis under way (by its failed list's ``id``): its
    orders and when it began. Their queued matches are not signed meanwhile (``_held``)."""

    def _held(self) -> AbstractSet[bytes]:
        """The orders whose queued matches the settler holds back now: those of a failed
        settlement whose diagnosis has not ended (chaos66: signed 10 ms after the first match
        of its ask reverted, before the diagnosis had read the chain, it reverted too), each
        for at most ``HOLD_BOUND`` seconds. Empty (the usual case): none held. Every order
        while the chain's identity is in doubt (``sdex.node.gate``), and while a block the
        watcher knows of is not applied to the book yet (``sdex.watch.unapplied``: up to its
        bound; behind77: a match of an order that block had filled was signed 1.6 s after
        it, behind a locked store, and reverted; revert78: 83 ms after a cancel's block,
        within behind77's 0.1 s grace)."""
        if self.engine.held:
            return EVERY_ORDER
        if self.watcher.unapplied.holding():  # (a block known, not in the book yet: behind77)
            return EVERY_ORDER
        if not self._holds:
            return frozenset()
        now = time.monotonic()
        live = [hashes for _, hashes, at in self._holds if now - at < HOLD_BOUND]
        return live[0] if len(live) == 1 else frozenset().union(*live)

    _lone_roots: dict[str, str] | None = None
    """In-flight settlements' hashes -> the ``transactionsRoot`` of a block of each alone."""

    def _own_in_flight(self, number: int) -> bool:
        """Whether block ``number``, announced, holds one of the node's settlements in flight
        alone (its ``transactionsRoot`` that of a block of that transaction alone), its
        receipt not here yet: it holds no signature back (its matches are in flight in the
        book already: nothing signed next can count on what they take). revert78: on
        automine each settlement is a block, announced before its receipt came under load;
        the next batches waited for each receipt (a bench at 100 crossings a second, no other
        party on the chain: 9-30 holds a round, up to 2.5 s one)."""
        root = self.watcher.announced_root(number)
        if not root:
            return False
        flying = self.settler.in_flight
        roots = self._lone_roots = self._lone_roots or {}
        if len(roots) > 4 * len(flying) + 64:  # (those landed: let go)
            for h in [h for h in roots if h not in flying]:
                del roots[h]
        for h, (_, signed) in self.settler.signed_views.items():
            if h not in flying:
                continue
            if (lone := roots.get(h)) is None:
                lone = roots[h] = lone_tx_root(bytes.fromhex(signed.raw.removeprefix("0x")))
            if lone == root:
                return True
        return False

    def _hold_diagnosed(self, failed: list[Match]) -> None:
        """``failed``'s orders' queued matches held back until its diagnosis ends."""
        hashes = frozenset(so.hash for m in failed for so in (m.resting, m.incoming))
        self._holds = (*self._holds, (id(failed), hashes, time.monotonic()))

    def _unhold_diagnosed(
        self, failed: list[Match], guilty: AbstractSet[bytes] = frozenset()
    ) -> None:
        """``failed``'s diagnosis ended: the matches of an order of ``guilty`` (found at
        fault) not signed yet withdrawn (queued, or taken into a batch: hold70, signed after
        the diagnosis it reverted), the others of its orders free to be signed."""
        if guilty:
            doomed = (
                m
                for m in self.settler.unsigned()
                if not guilty.isdisjoint((m.resting.hash, m.incoming.hash))
            )
            self._doomed.update((id(m), m) for m in doomed)
        kept = tuple(h for h in self._holds if h[0] != id(failed))
        if len(kept) != len(self._holds):
            self._holds = kept
            self.settler.wake()

    def _undoom(self, results: Iterable[SettledMatch]) -> None:
        """Reported matches out of ``_doomed``: one whose batch ended before its signature's
        check (a chain outage, a pre-flight) is never checked again (review72: kept for the
        node's life, the match with it)."""
        if self._doomed:
            for r in results:
                self._doomed.pop(id(r.match), None)
