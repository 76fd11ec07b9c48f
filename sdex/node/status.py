"""The node's calls that close orders, onto the registry (``sdex.node.registry``), which
checks each status change against ``sdex.model.TRANSITIONS``, stores it and publishes it."""

from __future__ import annotations

from collections.abc import Iterable

from sdex.book import RemovalReason
from sdex.model import OrderStatus
from sdex.node.registry import Record
from sdex.node.views import NodeViews


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

    def _mirror_funds(self, maker: str, token: str, amount: int) -> None:
        """Funds the mirror says (or the chain at its head): not for an account an own
        settlement moved in a block the mirror has not applied (``Mirror.ahead``), whose
        funds in the book, that settlement's fills taken off, are newer."""
        if (maker, token) not in self.mirror.ahead()[1]:
            self.registry.set_funds(maker, token, amount)

    def _accounts_from_mirror(self, accounts: Iterable[tuple[str, str]]) -> None:
        """The mirror's funds of those ``accounts`` the book holds (``_mirror_funds``)."""
        for account in accounts:
            spendable = self.mirror.spendable(account)
            if spendable is not None and self.registry.holds_account(account):
                self._mirror_funds(account[0], account[1], spendable)
