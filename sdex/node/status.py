"""The node's calls that close orders, onto the registry (``sdex.node.registry``), which
checks each status change against ``sdex.model.TRANSITIONS``, stores it and publishes it."""

from __future__ import annotations

from collections.abc import Iterable

from sdex.book import RemovalReason
from sdex.model import OrderStatus
from sdex.node.pastwords import let_go_passed, waits_for_mirror
from sdex.node.registry import Record
from sdex.node.views import NodeViews

FUNDS_PAST_KEPT = 10_000
"""Accounts whose funds were read past the mirror kept before those it passed are let go
(``_funds_read``)."""


class NodeStatus(NodeViews):
    """Close records and set funds, through the registry (store and websocket kept in step)."""

    def _close_record(
        self, rec: Record, status: OrderStatus, reason: str, filled: int | None = None
    ) -> None:
        self.registry.close(rec, status, reason, filled)

    def _book_closed(
        self, order_hash: bytes, reason: RemovalReason, filled: int | None = None
    ) -> None:
        self.registry.book_closed(order_hash, reason, filled)

    def _remove(
        self, order_hash: bytes, reason: RemovalReason, why: str, filled: int | None = None
    ) -> None:
        self.registry.remove(order_hash, reason, why, filled)

    def _set_funds(self, maker: str, token: str, amount: int) -> None:
        self.registry.set_funds(maker, token, amount)

    _funds_past: dict[tuple[str, str], int] | None = None
    """Accounts whose funds a chain read of a block past the mirror's head set (a failed
    settlement's diagnosis: ``_funds_read``), each with that block: the mirror's funds of
    them, older, wait till its head is there (``_mirror_funds``)."""

    _funds_taken_at = -1
    """The head of the last poll whose touched accounts the book took from the mirror (the
    watcher's changes applied: ``_accounts_from_mirror``), their re-reads done: funds the
    mirror holds of a block above it may still wait for theirs (``_watcher_was_first``)."""

    def _word_block(self, block: int | None) -> int:
        """The block a chain read's word is of: ``block``, or if not known the watcher's
        latest known block (the read was at or below it)."""
        if block is not None:
            return block
        u = self.watcher.unapplied
        return max(self.watcher.chain_head, u.known[-1][0] if u.known else -1)

    def _funds_read(self, maker: str, token: str, amount: int, block: int | None) -> None:
        """``maker``'s spendable ``token`` as a chain read at ``block`` says (None: not known,
        ``_word_block``), set in the book; while the mirror's head is below that block, its
        older funds of the account are not (``_mirror_funds``). race79 (settle69, after
        sybil78's merge): a diagnosis read an ask's maker short at the chain's latest block
        (she had moved her WETH in the block her adopted settlement reverted in); the
        watcher's first poll after the start, still replaying the blocks below, then set her
        funds of the block before, the ask matched an open bid, and that settlement,
        signed before the watcher heard of the latest block, reverted as well."""
        self.registry.set_funds(maker, token, amount)
        block, head = self._word_block(block), self.mirror.head
        if head is not None and head.number >= block:
            return
        past = self._funds_past = self._funds_past or {}
        let_go_passed(past, None if head is None else head.number, FUNDS_PAST_KEPT)
        past[(maker, token)] = max(block, past.get((maker, token), block))

    def _funds_past_mirror(self, account: tuple[str, str]) -> bool:
        """Whether ``account``'s funds were read at a block the mirror has not applied yet
        (``_funds_read``): the mirror's are older, and must not undo that read."""
        head = self.mirror.head
        return waits_for_mirror(self._funds_past, account, None if head is None else head.number)

    def _mirror_funds(self, maker: str, token: str, amount: int) -> None:
        """Funds the mirror says (or the chain at its head): not for an account an own
        settlement moved in a block the mirror has not applied (``Mirror.ahead``), whose
        funds in the book, that settlement's fills taken off, are newer; nor for one a
        chain read past the mirror's head set (``_funds_read``: that read is newer); nor,
        the book holding it, for one the watcher failed to read again since a block touched
        it (review97f: the mirror's figure before that block gave the maker back what her
        own settlement, confirmed in the book, had taken)."""
        account = (maker, token)
        if account in self.mirror.ahead()[1] or self._funds_past_mirror(account):
            return
        watcher = getattr(self, "watcher", None)  # (none before the start: nothing unread)
        unread = watcher is not None and watcher.unread(account)
        if not unread or not self.registry.holds_account(account):
            self.registry.set_funds(maker, token, amount)

    def _accounts_from_mirror(self, accounts: Iterable[tuple[str, str]]) -> None:
        """The mirror's funds of those ``accounts`` the book holds (``_mirror_funds``)."""
        for account in accounts:
            spendable = self.mirror.spendable(account)
            if spendable is not None and self.registry.holds_account(account):
                self._mirror_funds(account[0], account[1], spendable)
