"""``sdex.ingest.holds.SharedReads`` (outage79): a wallet's held orders of one account past
their wait share one read (one token), each still answered by its own row; bounded per read
(``SHARE_MOST``); a refused token, a chain not followed any more, a failed read and a
cancelled wait each answered as before. Real asyncio; the chain's rows a function here (the
read through a real node and Hardhat: tests/test_outage79.py)."""

from __future__ import annotations

import asyncio
import itertools
import math
import time

import pytest

from sdex.chain import OrderState
from sdex.chain.states import OrderStatus
from sdex.ingest import holds
from sdex.ingest.holds import MIN_READ, SharedReads
from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.order import ZERO_ADDRESS, Order, SignedOrder
from tests.nodeutil import wait_for

MAKERS = ["0x" + f"{i:040x}" for i in (1, 2)]
TOKENS = ["0x" + "ba" * 20, "0x" + "90" * 20]
_salts = itertools.count(1)


def order(maker: str = MAKERS[0], token: str = TOKENS[0]) -> SignedOrder:
    salt = next(_salts)
    o = Order(
        maker=maker, taker=ZERO_ADDRESS, maker_token=token, taker_token=TOKENS[1],
        maker_amount=10, taker_amount=10, fee_recipient=ZERO_ADDRESS, fee_amount=0,
        expiry=2**40, salt=salt,
    )  # fmt: skip
    return SignedOrder(order=o, signature=b"\1" * 65, hash=salt.to_bytes(32, "big"))


class Chain:
    """Rows by order (its hash as ``filled``), the reads asked, the status, a failure."""

    def __init__(self) -> None:
        self.asked: list[bytes] = []
        self.status = "ok"
        self.fails = False
        self.tokens = 0
        self.budget = 10**9
        self.within: list[float] = []
        self.overdue: list[bytes] = []

    def unread(self, s: SignedOrder) -> Rejection:
        self.overdue.append(s.hash)
        return Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, "due")

    async def read(self, s: SignedOrder, within: float) -> OrderState | Rejection:
        self.asked.append(s.hash)
        self.within.append(within)
        await asyncio.sleep(0)
        if self.fails:
            raise OSError("refused")
        return OrderState(s.hash, OrderStatus.FILLABLE, int.from_bytes(s.hash), True, 1, 1)

    def charge(self) -> Rejection | None:
        if self.tokens >= self.budget:
            return Rejection.of(RejectionCode.THROTTLED)
        self.tokens += 1
        return None

    def shared(self, gather: float = 0.2) -> SharedReads:
        return SharedReads(self.read, lambda: self.status, self.unread, gather)


def key(s: SignedOrder, sender: str = "10.0.0.1") -> tuple[str, str, str]:
    return sender, s.order.maker, s.order.maker_token


async def gets(
    sr: SharedReads, c: Chain, keyed: list[tuple[tuple[str, str, str], SignedOrder]]
) -> list[object]:
    async with asyncio.timeout(30):
        return list(await asyncio.gather(*(sr.get(k, s, c.charge) for k, s in keyed)))


@pytest.mark.parametrize(
    ("accounts", "tokens"),
    [
        ([("10.0.0.1", 0, 0)] * 6, 1),  # one wallet, one account: one read
        ([("10.0.0.1", 0, 0)] * 3 + [("10.0.0.1", 1, 0)] * 3, 2),  # two makers
        ([("10.0.0.1", 0, 0)] * 3 + [("10.0.0.1", 0, 1)] * 3, 2),  # two tokens
        ([("10.0.0.1", 0, 0)] * 3 + [("10.0.0.2", 0, 0)] * 3, 2),  # two wallets: never shared
    ],
)
async def test_orders_of_one_wallet_and_account_share_a_read(
    accounts: list[tuple[str, int, int]], tokens: int
) -> None:
    c = Chain()
    sr = c.shared()
    signed = [order(MAKERS[m], TOKENS[t]) for _, m, t in accounts]
    keyed = [(key(s, a[0]), s) for a, s in zip(accounts, signed, strict=True)]
    answers = await gets(sr, c, keyed)
    # each order answered by its own row, every row read, one token per wallet and account
    assert [a.hash for a in answers] == [s.hash for s in signed]  # type: ignore[attr-defined]
    assert sorted(c.asked) == sorted(s.hash for s in signed)
    assert (c.tokens, sr.reads, sr.joined) == (tokens, tokens, len(signed) - tokens)


async def test_a_read_holds_at_most_share_most(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holds, "SHARE_MOST", 3)
    c = Chain()
    sr = c.shared()
    signed = [order() for _ in range(7)]
    await gets(sr, c, [(key(s), s) for s in signed])
    assert (c.tokens, sr.joined) == (3, 4)  # (3 + 3 + 1)


async def test_a_gather_ended_opens_another_read() -> None:
    c = Chain()
    sr = c.shared(gather=0.05)
    first, second = order(), order()
    await gets(sr, c, [(key(first), first)])
    await gets(sr, c, [(key(second), second)])
    assert (c.tokens, sr.joined) == (2, 0)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("throttled", RejectionCode.THROTTLED),  # no token: answered 429, nothing read
        ("unreachable", RejectionCode.CHAIN_UNAVAILABLE),  # went down during the gather
        ("behind", RejectionCode.CHAIN_UNAVAILABLE),  # a backend answering from its past
        ("fails", RejectionCode.CHAIN_UNAVAILABLE),  # the read failed
    ],
)
async def test_bad_cases_are_answered_as_before(case: str, code: RejectionCode) -> None:
    c = Chain()
    sr = c.shared()
    signed = [order() for _ in range(3)]
    if case == "throttled":
        c.budget = 0
    elif case == "fails":
        c.fails = True
    first = asyncio.ensure_future(sr.get(key(signed[0]), signed[0], c.charge))
    if case in ("unreachable", "behind"):
        await wait_for(lambda: key(signed[0]) in sr._open)  # (its group gathering)
        c.status = case
    answers = [await first, *await gets(sr, c, [(key(s), s) for s in signed[1:]])]
    assert all(isinstance(a, Rejection) and a.code == code for a in answers), answers
    if case == "throttled":  # (each tried for a token of its own: none opened a read)
        assert (sr.reads, c.asked) == (0, [])
    if case in ("unreachable", "behind"):
        assert (c.asked, c.tokens) == ([], 0)  # (users89: no token for a read not made)
        assert answers[0].detail == {"chainStatus": case, "why": answers[0].detail["why"]}  # type: ignore[union-attr]


async def test_a_cancelled_wait_leaves_the_others_answered() -> None:
    c = Chain()
    sr = c.shared()
    signed = [order() for _ in range(3)]
    waits = [asyncio.ensure_future(sr.get(key(s), s, c.charge)) for s in signed]
    await wait_for(lambda: sr.joined == 2)
    waits[0].cancel()  # (the opener's wallet went away: its read goes on for the others)
    async with asyncio.timeout(30):
        rest = await asyncio.gather(*waits[1:])
    assert [a.hash for a in rest] == [s.hash for s in signed[1:]]  # type: ignore[union-attr]
    assert waits[0].cancelled()


async def test_a_shared_read_gets_what_is_left_of_each_orders_due_time() -> None:
    """replay80: the read had the intake's whole 8 s whenever it began; then it got what was
    left of its group's earliest due time (``ANSWER_WITHIN`` from the start of the hold), at
    least ``MIN_READ`` (users86: past that due time); now each order's read gets what is left
    of its own (none: the peer's due time, infinite, leaves the intake's deadline)."""
    c = Chain()
    sr = c.shared(gather=0.1)
    signed = [order() for _ in range(3)]
    now = time.monotonic()
    dues = [now + 3.0, now + 8.0, math.inf]
    async with asyncio.timeout(30):
        await asyncio.gather(
            *(sr.get(key(s), s, c.charge, d) for s, d in zip(signed, dues, strict=True))
        )
    within = dict(zip(c.asked, c.within, strict=True))
    assert 2.0 <= within[signed[0].hash] <= 2.95, within
    assert 7.0 <= within[signed[1].hash] <= 7.95, within
    assert within[signed[2].hash] == math.inf and c.tokens == 1, within


async def test_an_order_with_too_little_left_is_answered_unread_and_the_gather_ends_sooner() -> (
    None
):
    """users86: an order due in less than ``MIN_READ`` is answered at once, unread, with no
    token; the gather ends ``MIN_READ`` before its group's earliest due time (one that joins
    due sooner than the first cuts it short), so no read runs past its due time."""
    c = Chain()
    sr = c.shared(gather=5.0)
    now = time.monotonic()
    soon, first, joins = order(), order(), order()
    async with asyncio.timeout(30):
        assert isinstance(await sr.get(key(soon), soon, c.charge, now + MIN_READ / 2), Rejection)
        assert (c.overdue, c.tokens, c.asked) == ([soon.hash], 0, [])
        began = time.monotonic()
        waits = [asyncio.ensure_future(sr.get(key(first), first, c.charge, now + 20.0))]
        await asyncio.sleep(0.05)  # (the first's group open; not a wait for a condition)
        waits.append(asyncio.ensure_future(sr.get(key(joins), joins, c.charge, now + 1.0)))
        await asyncio.gather(*waits)
    assert time.monotonic() - began < 1.0  # (the 5 s gather cut to the joiner's due time)
    within = dict(zip(c.asked, c.within, strict=True))
    assert 0 < within[joins.hash] <= MIN_READ and within[first.hash] > 15, within
    assert (c.tokens, sr.joined) == (1, 1)


async def test_a_group_whose_every_order_is_overdue_spends_no_token() -> None:
    """review88, verified by users89: a group's token was taken when it opened, so a group
    whose orders were all past their due time once its gather ended (the event loop starved
    past them: a loaded machine) answered each unread, ``overdue``, and its sender's token
    was spent on no read. The token is taken when the read is made, for a read made."""
    c = Chain()
    sr = c.shared(gather=5.0)  # (the gather ends MIN_READ before the due time: in 2 s)
    signed = [order() for _ in range(2)]
    due = time.monotonic() + MIN_READ + 2.0
    waits = [asyncio.ensure_future(sr.get(key(s), s, c.charge, due)) for s in signed]
    await wait_for(lambda: key(signed[0]) in sr._open and sr.joined == 1)
    time.sleep(due - time.monotonic() + 0.1)  # the loop starved past every due time
    async with asyncio.timeout(30):
        answers = await asyncio.gather(*waits)
    assert all(isinstance(a, Rejection) and a.code is RejectionCode.CHAIN_UNAVAILABLE
               for a in answers), answers  # fmt: skip
    assert (c.asked, c.overdue) == ([], [s.hash for s in signed])
    assert (c.tokens, sr.reads) == (0, 0)  # (before: one token, one read counted, none made)
