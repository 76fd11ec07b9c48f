"""funds67: ``sdex.node.funding.unpaid`` reads per-account totals of what the settlements ahead
of a batch take and give (``SignedOut``; ``OwnReceipts.paid``/``got``), kept as they come and
go, instead of walking every one twice a batch. A hypothesis state machine signs, reports,
notes receipts (and stubs past a small cap), applies, drops and clears them, moves funds and
fills, and after every step checks the totals against a walk and the verdict on a batch
against settle65's walk (kept here as the reference, ``walked``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sdex.chain import Exchange, Rpc
from sdex.matching.match import Match
from sdex.mirror import Mirror, OwnReceipt
from sdex.mirror.own import OwnReceipts, Stub
from sdex.model import Side
from sdex.node.funding import unpaid
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from sdex.settlement.signedout import SignedOut

WETH, USDC = "0x" + "aa" * 20, "0x" + "bb" * 20
MAKERS = ["0x" + f"{i:02x}" * 20 for i in (1, 2, 3)]
TXS = [f"0x{i:064x}" for i in range(6)]
Account = tuple[str, str]


# -- settle65's walk, the reference --------------------------------------------------------


def _pays(m: Match) -> tuple[tuple[SignedOrder, SignedOrder, int], ...]:
    return ((m.resting, m.incoming, m.left_filled), (m.incoming, m.resting, m.right_filled))


def _need(so: SignedOrder, amount: int, mirror: Mirror) -> int:
    return min(amount, max(0, so.order.maker_amount - mirror.filled_of(so.hash)))


def walked(
    batch: Sequence[Match],
    ahead: Iterable[Match],
    mirror: Mirror,
    confirmed: Callable[[bytes], int | None],
) -> set[int]:
    needs: dict[Account, int] = {}
    for m in batch:
        for so, _, amount in _pays(m):
            key = (so.order.maker, so.order.maker_token)
            needs[key] = needs.get(key, 0) + amount
    left: dict[Account, int] = {}
    for key in needs:
        spendable = mirror.spendable(key)
        if spendable is not None:
            left[key] = spendable
    ahead = list(ahead)
    most = dict(left)
    _taken(most, (), mirror, confirmed)
    for m in ahead:
        for o, amount in ((m.resting.order, m.left_filled), (m.incoming.order, m.right_filled)):
            if (o.maker, o.maker_token) in most:
                most[o.maker, o.maker_token] -= amount
    if all(most.get(k, need) >= need for k, need in needs.items()):
        return set()
    if mirror.own.stubs:
        return set()
    _taken(left, ahead, mirror, confirmed)
    for r in mirror.own.values():
        for token, _, to, value in r.transfers:
            if (to, token) in left:
                left[to, token] += value
    _credit(left, ahead)
    out: set[int] = set()
    for i, m in enumerate(batch):
        pays = [(so, _need(so, amount, mirror)) for so, _, amount in _pays(m)]
        if any(left.get((so.order.maker, so.order.maker_token), n) < n for so, n in pays):
            out.add(i)
            continue
        for so, n in pays:
            key = (so.order.maker, so.order.maker_token)
            if key in left:
                left[key] -= n
        _credit(left, (m,))
    return out


def _taken(
    left: dict[Account, int],
    ahead: Iterable[Match],
    mirror: Mirror,
    confirmed: Callable[[bytes], int | None],
) -> None:
    for r in mirror.own.values():
        for token, payer, _, value in r.transfers:
            if (payer, token) in left:
                left[payer, token] -= value
    for m in ahead:
        for so, _, amount in _pays(m):
            key = (so.order.maker, so.order.maker_token)
            book = confirmed(so.hash) if key in left else None
            if book is not None and mirror.filled_of(so.hash) <= book:
                left[key] -= _need(so, amount, mirror)


def _credit(left: dict[Account, int], matches: Iterable[Match]) -> None:
    for m in matches:
        for so, payee, amount in _pays(m):
            token = so.order.maker_token
            for to in {payee.order.maker, payee.order.fee_recipient}:
                if (to, token) in left:
                    left[to, token] += amount


# -- the machine ---------------------------------------------------------------------------


def signed(salt: int, maker: str, fee_to: str, ask: bool, amount: int) -> SignedOrder:
    sell, buy = (WETH, USDC) if ask else (USDC, WETH)
    o = Order(maker, ZERO_ADDRESS, sell, buy, amount, amount, fee_to, 0, 2**40, salt)
    return SignedOrder(o, bytes(65), salt.to_bytes(32, "big"))


ORDERS = [
    signed(i, MAKERS[i % 3], (ZERO_ADDRESS, MAKERS[(i + 1) % 3])[i % 2], i % 4 < 2, 2 + i % 5)
    for i in range(16)
]
ASKS = [o for o in ORDERS if o.order.maker_token == WETH]
BIDS = [o for o in ORDERS if o.order.maker_token == USDC]
AMOUNT = st.integers(0, 6)
MATCH = st.builds(
    lambda ask, bid, left, right: Match(ask, bid, None, Side.BID, left, right),
    st.sampled_from(ASKS),
    st.sampled_from(BIDS),
    AMOUNT,
    AMOUNT,
)
ACCOUNT = st.tuples(st.sampled_from([*MAKERS, ZERO_ADDRESS]), st.sampled_from([WETH, USDC]))
TRANSFER = st.builds(
    lambda token, frm, to, value: (token, frm, to, value),
    st.sampled_from([WETH, USDC]),
    st.sampled_from(MAKERS),
    st.sampled_from([*MAKERS, ZERO_ADDRESS]),
    AMOUNT,
)


def summed(pairs: Iterable[tuple[Account, int]]) -> dict[Account, int]:
    out: dict[Account, int] = {}
    for k, v in pairs:
        out[k] = out.get(k, 0) + v
    return {k: v for k, v in out.items() if v}


def nonzero(totals: dict[Account, int]) -> dict[Account, int]:
    """A total of 0 is as none (a transfer of 0 added leaves one until it goes)."""
    return {k: v for k, v in totals.items() if v}


class FundsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.mirror = Mirror(Exchange(Rpc("http://127.0.0.1:9"), "0x" + "11" * 20), [WETH, USDC])
        self.mirror.own = OwnReceipts(cap=3, stub_cap=4)
        self.out = SignedOut()
        self.kept: list[Match] = []  # (alive: an ``id`` is not reused under the test)
        self.confirmed: dict[bytes, int] = {}

    @initialize(funds=st.lists(st.integers(0, 12), min_size=6, max_size=6))
    def funded(self, funds: list[int]) -> None:
        accounts = [(maker, token) for maker in MAKERS for token in (WETH, USDC)]
        for account, n in zip(accounts, funds, strict=True):
            self.mirror.set_funds(account, n, n)

    @rule(batch=st.lists(MATCH, max_size=4))
    def sign(self, batch: list[Match]) -> None:
        self.kept += batch
        self.out.update((id(m), m) for m in batch)

    @rule(data=st.data())
    def report(self, data: st.DataObject) -> None:
        if self.out:
            key = data.draw(st.sampled_from(list(self.out)))
            if data.draw(st.booleans()):
                assert self.out.pop(key) is not None
            else:
                del self.out[key]
        assert self.out.pop(-1) is None  # (not in: nothing changes)

    @rule(m=MATCH)
    def signed_again(self, m: Match) -> None:  # (an id in already: counted once)
        if self.out:
            self.kept.append(m)
            self.out[next(iter(self.out))] = m

    @rule(
        tx=st.sampled_from(TXS),
        number=st.integers(1, 5),
        moved=st.lists(TRANSFER, max_size=4),
        replace=st.booleans(),
    )
    def receipt(
        self, tx: str, number: int, moved: list[tuple[str, str, str, int]], replace: bool
    ) -> None:
        r = OwnReceipt(tx, f"0x{number:064x}", number, (), tuple(moved), frozenset())
        if replace:
            self.mirror.own[tx] = r
        else:
            self.mirror.own.add(r)

    @rule(tx=st.sampled_from(TXS), number=st.integers(1, 5), payers=st.lists(ACCOUNT, max_size=2))
    def stub(self, tx: str, number: int, payers: list[Account]) -> None:
        self.mirror.own.note(tx, Stub(f"0x{number:064x}", number, (), tuple(payers), 0.0))

    @rule(number=st.integers(0, 5), ours=st.booleans())
    def applied(self, number: int, ours: bool) -> None:
        self.mirror.own.passed(number, lambda n: f"0x{n:064x}" if ours else None)

    @rule(txs=st.lists(st.sampled_from(TXS), max_size=3), head=st.integers(0, 5))
    def dropped(self, txs: list[str], head: int) -> None:
        self.mirror.own.drop(txs, head)

    @rule(which=st.sampled_from(["own", "out"]))
    def reset(self, which: str) -> None:
        (self.mirror.own if which == "own" else self.out).clear()

    @rule(account=ACCOUNT, balance=st.integers(0, 24), allowance=st.integers(0, 24))
    def funds(self, account: Account, balance: int, allowance: int) -> None:
        self.mirror.set_funds(account, balance, allowance)

    @rule(account=ACCOUNT)
    def unknown(self, account: Account) -> None:
        self.mirror.funds.pop(account, None)

    @rule(data=st.data(), filled=st.integers(0, 6), book=st.none() | st.integers(0, 6))
    def fills(self, data: st.DataObject, filled: int, book: int | None) -> None:
        ahead = {so.hash: so for m in self.out.values() for so in (m.resting, m.incoming)}
        so = data.draw(st.sampled_from(sorted(ahead.values(), key=lambda so: so.hash) or ORDERS))
        self.mirror.filled[so.hash] = filled
        if book is None:
            self.confirmed.pop(so.hash, None)
        else:
            self.confirmed[so.hash] = book

    @rule(batch=st.lists(MATCH, min_size=1, max_size=6))
    def judged(self, batch: list[Match]) -> None:
        want = walked(batch, self.out.values(), self.mirror, self.confirmed.get)
        assert unpaid(batch, self.out, self.mirror, self.confirmed.get) == want
        assert unpaid(batch, list(self.out.values()), self.mirror, self.confirmed.get) == want

    @invariant()
    def totals_are_the_walks(self) -> None:
        sides = [(so, payee, amount) for m in self.out.values() for so, payee, amount in _pays(m)]
        assert nonzero(self.out.pays) == summed(
            ((so.order.maker, so.order.maker_token), a) for so, _, a in sides
        )
        moved = [t for r in self.mirror.own.values() for t in r.transfers]
        assert nonzero(self.mirror.own.paid) == summed(
            ((frm, token), v) for token, frm, _, v in moved
        )
        assert nonzero(self.mirror.own.got) == summed(((to, token), v) for token, _, to, v in moved)


TestFundsMachine = FundsMachine.TestCase
TestFundsMachine.settings = settings(
    max_examples=300,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_the_machine_reaches_a_short_maker_with_no_stubs() -> None:
    """The slow path is reached (not every verdict the fast one): Alice short by what one
    signed ahead takes, the batch's match withdrawn, as the walk says."""
    m = FundsMachine()
    ask = ASKS[0]
    m.mirror.set_funds((ask.order.maker, WETH), 3, 3)
    m.confirmed[ask.hash] = 0
    first = Match(ask, BIDS[0], None, Side.BID, 2, 2)
    m.sign([first])
    batch = [Match(ask, BIDS[1], None, Side.BID, 2, 2)]
    assert walked(batch, m.out.values(), m.mirror, m.confirmed.get) == {0}
    m.judged(batch)
    m.out.clear()
    assert unpaid(batch, m.out, m.mirror, m.confirmed.get) == set()
