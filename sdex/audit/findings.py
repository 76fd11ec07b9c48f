"""What the audit's checks share: a ``Discrepancy``, a check's ``CheckResult``, and the
index over ``Facts`` (orders by hash, fills grouped by transaction unit) they all read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property

from sdex.audit.facts import Facts
from sdex.chain import FillEvent, OrderState
from sdex.order import Order


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """One thing the chain's record, an order or a node got wrong."""

    kind: str
    detail: str
    tx_hash: str | None = None
    log_index: int | None = None
    order_hash: str | None = None  # 0x hex
    node: str | None = None
    source: str | None = None

    @property
    def subject(self) -> tuple[object, ...]:
        """What the discrepancy is about; a check counts each failing subject once."""
        return (self.tx_hash, self.log_index, self.order_hash, self.node, self.source)

    @property
    def places(self) -> list[str]:
        """Where to look, for a human: the log, the order, the node (each one line that fits
        80 columns with a hash whole: ``tx 0x…64… log N``)."""
        parts = []
        if self.tx_hash is not None:
            parts.append(f"tx {self.tx_hash}")
            if self.log_index is not None:  # (on the tx's line while both fit, indented by 4)
                log = f"log {self.log_index}"
                if 4 + len(parts[-1]) + 1 + len(log) <= 80:
                    parts[-1] += " " + log
                else:
                    parts.append(log)
        if self.order_hash is not None:
            parts.append(f"order {self.order_hash}")
        if self.node is not None:
            parts.append(f"node {self.node}")
        if self.source is not None and self.source != self.node:
            parts.append(f"from {self.source}")
        return parts

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "detail": self.detail}
        for key, value in (
            ("txHash", self.tx_hash),
            ("logIndex", self.log_index),
            ("orderHash", self.order_hash),
            ("node", self.node),
            ("source", self.source),
        ):
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: ``checked`` subjects, of which those named by ``discrepancies`` failed."""

    name: str
    title: str
    checked: int
    discrepancies: tuple[Discrepancy, ...]

    @property
    def failed(self) -> int:
        return len({d.subject for d in self.discrepancies})

    @property
    def passed(self) -> int:
        return max(self.checked - self.failed, 0)


def hex0x(h: bytes) -> str:
    return "0x" + h.hex()


def about(e: FillEvent, kind: str, detail: str) -> Discrepancy:
    """A discrepancy located at fill event ``e``."""
    return Discrepancy(
        kind, detail, tx_hash=e.tx_hash, log_index=e.log_index, order_hash=hex0x(e.order_hash)
    )


class FactsIndex:
    """Lookups shared by the checks, built once from the facts."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.copies = facts.copies_by_hash()
        self.states: dict[bytes, OrderState] = facts.chain.states_by_hash()

    def order(self, order_hash: bytes) -> Order | None:
        copies = self.copies.get(order_hash)
        return copies[0].signed.order if copies else None

    @cached_property
    def units(self) -> list[tuple[FillEvent, ...]]:
        """Fill events grouped by settlement: a ``fillOrder`` alone, a match's pair together.

        A match's two events are adjacent logs (nothing runs between its two ``_recordFill``);
        a ``fillOrder`` event is always followed by its maker's Transfer (makerFilled > 0), so
        two fill events with adjacent log indexes are a match, read left then right.
        """
        by_tx: dict[str, list[FillEvent]] = defaultdict(list)
        for e in self.facts.chain.fills:
            by_tx[e.tx_hash].append(e)
        units: list[tuple[FillEvent, ...]] = []
        for events in by_tx.values():
            events.sort(key=lambda e: e.log_index)
            i = 0
            while i < len(events):
                if i + 1 < len(events) and events[i + 1].log_index == events[i].log_index + 1:
                    units.append((events[i], events[i + 1]))
                    i += 2
                else:
                    units.append((events[i],))
                    i += 1
        return units

    @cached_property
    def resting_or_alone(self) -> set[tuple[str, int]]:
        """(tx, log index) of the events whose own price sets the amounts: a ``fillOrder``
        fill or a match's resting (left) order."""
        return {(u[0].tx_hash, u[0].log_index) for u in self.units}


def per_fill(
    facts: Facts, ix: FactsIndex, problems: Callable[[FillEvent, Order], Iterable[tuple[str, str]]]
) -> tuple[int, tuple[Discrepancy, ...]]:
    """Run ``problems`` on each fill whose order is known; count and locate what it finds."""
    checked, found = 0, []
    for e in facts.chain.fills:
        o = ix.order(e.order_hash)
        if o is None:
            continue  # reported by check_orders_found
        checked += 1
        found += [about(e, kind, why) for kind, why in problems(e, o)]
    return checked, tuple(found)
