"""revert75: ``OwnReceipts.filled``, what the own receipts ahead of the mirror filled of an order,
kept as receipts come and go (``fills_kept``) and checked against a walk over them after every
step of a hypothesis state machine: receipts noted (past a small cap the oldest become stubs),
peers' stubs noted, receipts applied (``passed``), dropped, popped, cleared. None whenever a
stub or a let-go stub names the order (what it filled is not kept)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sdex.mirror.own import OwnReceipt, OwnReceipts, Stub
from sdex.model import FillEvent

ORDERS = [bytes([i]) * 32 for i in range(1, 5)]
TXS = [f"0x{i:064x}" for i in range(8)]
FILL = st.tuples(st.sampled_from(ORDERS), st.integers(1, 10**6))


def receipt(tx: str, number: int, fills: list[tuple[bytes, int]]) -> OwnReceipt:
    events = tuple(
        FillEvent(h, "0x" + "11" * 20, "0x" + "22" * 20, n, n, "0x" + "00" * 20, 0, number, tx, i)
        for i, (h, n) in enumerate(fills)
    )
    return OwnReceipt(tx, f"0x{number:064x}", number, events, (), frozenset())


class Ahead(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.own = OwnReceipts(cap=3, stub_cap=2)

    @rule(tx=st.sampled_from(TXS), number=st.integers(1, 6), fills=st.lists(FILL, max_size=3))
    def noted(self, tx: str, number: int, fills: list[tuple[bytes, int]]) -> None:
        self.own.add(receipt(tx, number, fills))

    @rule(
        tx=st.sampled_from(TXS),
        number=st.integers(1, 6),
        orders=st.lists(st.sampled_from(ORDERS), max_size=2),
    )
    def peer(self, tx: str, number: int, orders: list[bytes]) -> None:
        self.own.note(tx, Stub(f"0x{number:064x}", number, tuple(orders), (), 0.0))

    @rule(number=st.integers(0, 6), ours=st.booleans())
    def applied(self, number: int, ours: bool) -> None:
        self.own.passed(number, lambda n: f"0x{n:064x}" if ours else None)
        self.own.due(number)

    @rule(txs=st.lists(st.sampled_from(TXS), max_size=3), head=st.integers(0, 6))
    def dropped(self, txs: list[str], head: int) -> None:
        self.own.drop(txs, head)

    @rule(tx=st.sampled_from(TXS))
    def popped(self, tx: str) -> None:
        self.own.pop(tx)

    @rule()
    def cleared(self) -> None:
        self.own.clear()

    @invariant()
    def filled_is_the_walks(self) -> None:
        own = self.own
        for h in ORDERS:
            stubbed = h in own.overflow or any(h in s.orders for s in own.stubs.values())
            walk = sum(f.maker_filled for r in own.values() for f in r.fills if f.order_hash == h)
            assert own.filled(h) == (None if stubbed else walk)


TestAhead = Ahead.TestCase
TestAhead.settings = settings(
    max_examples=200,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
