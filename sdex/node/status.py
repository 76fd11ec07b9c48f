"""Order status changes: each goes through ``_set_status`` (checked against
``sdex.model.TRANSITIONS``), and each is persisted and published on the websocket."""

from __future__ import annotations

from sdex.book import RemovalReason
from sdex.model import OrderStatus, check_transition, closed_status
from sdex.node.records import Record
from sdex.node.views import NodeViews


class NodeStatus(NodeViews):
    """Set and close records' statuses (store and websocket kept in step)."""

    _deferred_writes: list[tuple[str, str, int, str]] | None = None
    """While a settlement's results are applied: closed records' rows, written in one
    ``update_orders`` when they are (``_write_deferred``), not one blocking write each."""

    def _write_deferred(self) -> None:
        rows, self._deferred_writes = self._deferred_writes, None
        if rows:
            self.store.update_orders(rows)

    def _set_status(self, rec: Record, status: OrderStatus) -> None:
        """Change a record's status (an allowed transition, else ``TransitionError``), keeping
        the per-maker open-order counts (limits) true. The caller persists and publishes."""
        status = check_transition(rec.status, status)
        was_open = rec.status.is_open
        is_open = status.is_open
        if was_open != is_open:
            maker = rec.signed.order.maker
            old = self.maker_open.get(maker, 0)
            n = old + (1 if is_open else -1)
            if n > 0:
                self.maker_open[maker] = n
            else:
                self.maker_open.pop(maker, None)
                n = 0
            self.open_orders += n - old  # the sum of maker_open, kept (read per order)
        rec.status = status

    def _close_record(self, rec: Record, status: OrderStatus, reason: str) -> None:
        if status is OrderStatus.REMOVED and not rec.status.is_open:
            return  # closed already: this node's policy never closes an order twice
        self._set_status(rec, status)
        rec.reason = reason
        st = self.book.get(rec.signed.hash)
        if st is not None:
            rec.filled = st.filled
        row = (rec.signed.hash_hex, status, rec.filled, reason)
        if self._deferred_writes is not None:
            self._deferred_writes.append(row)
        else:
            self.store.update_orders([row])
        self.events.publish({"type": "order", "event": status, **self._record(rec)})

    def _book_closed(self, order_hash: bytes, reason: RemovalReason) -> None:
        rec = self.records.get(order_hash)
        if rec is None:
            return
        st = self.book.get(order_hash)
        filled = st.filled if st is not None else rec.filled
        status = closed_status(reason.value, filled == rec.signed.order.maker_amount)
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
            self._close_record(rec, closed_status(reason.value, False), why)
