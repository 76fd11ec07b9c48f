"""Order status changes: every close of a record is persisted and published here."""

from __future__ import annotations

from sdex.book import RemovalReason
from sdex.node.records import OPEN_STATUSES, Record
from sdex.node.views import NodeViews

_API_STATUSES = {
    "open",
    "partially_filled",
    "filled",
    "cancelled",
    "expired",
    "unfunded",
    "removed",
}


class NodeStatus(NodeViews):
    """Set and close records' statuses (store and websocket kept in step)."""

    def _set_status(self, rec: Record, status: str) -> None:
        """Change a record's status, keeping the per-maker open-order counts (limits) true."""
        was_open = rec.status in OPEN_STATUSES
        is_open = status in OPEN_STATUSES
        if was_open != is_open:
            maker = rec.signed.order.maker
            n = self.maker_open.get(maker, 0) + (1 if is_open else -1)
            if n > 0:
                self.maker_open[maker] = n
            else:
                self.maker_open.pop(maker, None)
        rec.status = status

    def _close_record(self, rec: Record, status: str, reason: str) -> None:
        self._set_status(rec, status)
        rec.reason = reason
        st = self.book.get(rec.signed.hash)
        if st is not None:
            rec.filled = st.filled
        self.store.update_orders([(rec.signed.hash_hex, status, rec.filled, reason)])
        self.events.publish({"type": "order", "event": status, **self._record(rec)})

    def _book_closed(self, order_hash: bytes, reason: RemovalReason) -> None:
        rec = self.records.get(order_hash)
        if rec is None:
            return
        st = self.book.get(order_hash)
        filled = st.filled if st is not None else rec.filled
        done = filled == rec.signed.order.maker_amount or reason is RemovalReason.DUST
        status = "filled" if done else reason.value  # dust: nothing tradeable is left
        if reason is RemovalReason.SELF_TRADE or reason is RemovalReason.UNMATCHED:
            status = "removed"
        rec.filled = filled
        self._close_record(rec, status, reason.value)

    def _remove(self, order_hash: bytes, reason: RemovalReason, why: str) -> None:
        if order_hash not in self.book:
            return
        self.book.remove(order_hash, reason)
        rec = self.records.get(order_hash)
        if rec is not None:
            st = self.book.get(order_hash)
            rec.filled = st.filled if st is not None else rec.filled
            status = "filled" if reason is RemovalReason.FILLED else reason.value
            self._close_record(rec, status if status in _API_STATUSES else "removed", why)
