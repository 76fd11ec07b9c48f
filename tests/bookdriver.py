"""Runs a sequence of node-like operations on a fresh book and engine and describes every
result: the differential test (``tests/test_book_native.py``) runs the same sequence in the
test process (the compiled book) and in a ``SDEX_PURE=1`` subprocess serving this module
(``python -m tests.bookdriver``: one JSON list of operations per line in, one JSON trace per
line out), and compares.

An operation is a JSON list, its first item the name (see ``OPS``); the indices in it are
taken modulo the sizes of the lists they pick from, so any list of small integers is valid;
``submit`` takes one, the seed of the order's choices (with the count of orders so far).
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from fractions import Fraction
from typing import Any

from sdex.book import OrderBook, RemovalReason
from sdex.book.errors import BookError
from sdex.matching import Match, MatchingEngine, MatchResult, TimeInForce
from sdex.order import ZERO_ADDRESS, Domain, Order, SignedOrder

BASES = ["0x" + "ba" * 20, "0x" + "bb" * 20]
QUOTE = "0x" + "90" * 20
TRADERS = ["0x" + f"{i:040x}" for i in range(1, 5)]
FEES = "0x" + "fe" * 20
T0 = 1_700_000_000
DOMAIN = Domain(chain_id=31337, verifying_contract="0x" + "e0" * 20)
PRICES = [Fraction(2, 3), Fraction(1), Fraction(7, 5), Fraction(3, 2)]
SCALES = [1, 1, 10**6, 10**18, 3**40]
JITTER = [0, 0, 0, -1, 1, 2]
FUNDS = [None, 0, 5, 30, 10**19, 10**41]
HUGE = 2**255 - 1  # with HUGE - 1: coprime, one lot is all of it
TIFS = [TimeInForce.GTC, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]
OPS = (
    "submit", "cancel", "shrink", "funds", "settle", "advance", "rematch", "uncross",
    "unfundable", "selfcross",
)  # fmt: skip


class Driver:
    def __init__(self, apart: bool = True, uncross: bool = True) -> None:
        """``apart=False``: orders restricted to one taker rest in the public ladders, as
        before book49 (``BookSide.private`` None), the walk skipping them there.
        ``uncross=False``: the operations that call ``uncross`` after them do not."""
        self.book = OrderBook([(b, QUOTE) for b in BASES], default_funds=None)
        if not apart:
            for p in self.book.pairs:
                p.bids.private = p.asks.private = None
        self.uncross = uncross
        self.engine = MatchingEngine(self.book)
        self.now = T0
        self.pending: list[Match] = []
        self.salt = 0

    def open_hashes(self) -> list[bytes]:
        return [s.hash for s in self.book if s.closed is None]

    def results(self, results: list[MatchResult]) -> list[Any]:
        for r in results:
            self.pending.extend(r.matches)
        return [_result(r) for r in results]

    def uncrossed(self) -> list[MatchResult]:
        return self.engine.uncross(now=self.now) if self.uncross else []

    def step(self, op: list[Any]) -> Any:
        """``op``'s result, or the error the book raised for it."""
        try:
            return self.op(op)
        except (BookError, ArithmeticError, ValueError) as exc:
            return ["error", type(exc).__name__, str(exc)]

    def op(self, op: list[Any]) -> Any:
        name, args = op[0], op[1:]
        if name == "submit":
            rng = random.Random(args[0] << 20 | self.salt)  # 12 choices, spread evenly
            signed, filled, tif = self.order(*[rng.randrange(2**16) for _ in range(12)])
            return self.results([self.engine.submit(signed, now=self.now, tif=tif, filled=filled)])
        if name in ("cancel", "shrink", "rematch"):
            hashes = self.open_hashes()
            if not hashes:
                return None
            h = hashes[args[0] % len(hashes)]
            if name == "cancel":
                self.book.remove(h, RemovalReason.CANCELLED)
            elif name == "shrink":
                e = self.book.entry(h)
                self.book.set_filled(h, e.filled + e.remaining * (args[1] % 9) // 8)
            else:
                return self.results(
                    [self.engine.rematch(h, now=self.now, older_only=bool(args[1] % 2))]
                )
            return self.results(self.uncrossed())
        if name == "funds":
            maker = TRADERS[args[0] % len(TRADERS)]
            token = (*BASES, QUOTE)[args[1] % 3]
            self.book.set_funds(maker, token, FUNDS[args[2] % len(FUNDS)])
            return self.results(self.uncrossed())
        if name == "settle":
            if not self.pending:
                return None
            m = self.pending.pop(args[0] % len(self.pending))
            if args[1] % 2:
                self.engine.confirm(m)
                return "confirmed"
            self.engine.release(m)
            return self.results(self.uncrossed())
        if name == "advance":
            self.now += args[0] % 200
            return [[h.hex(), r.value] for h, r in self.book.expire(self.now)]
        if name == "uncross":
            return self.results(self.uncrossed())
        if name == "unfundable":  # one lot beyond any maker's funds (attack29)
            maker = TRADERS[args[0] % len(TRADERS)]
            sell, buy = (BASES[0], QUOTE) if args[0] // len(TRADERS) % 2 else (QUOTE, BASES[0])
            return self.submit_order(maker, sell, buy, HUGE, HUGE - 1)
        if name == "selfcross":  # the maker of an open order sends one that crosses it
            hashes = self.open_hashes()
            if not hashes:
                return None
            o = self.book.entry(hashes[args[0] % len(hashes)]).order
            m, t = o.taker_amount, o.maker_amount
            if m * 2 < 2**255 and t * 2 < 2**255:
                m, t = m * (1 + args[0] % 2), t * (1 + args[0] % 2)
            return self.submit_order(o.maker, o.taker_token, o.maker_token, m, t)
        raise ValueError(f"unknown operation {name!r}")

    def submit_order(self, maker: str, sell: str, buy: str, m: int, t: int) -> Any:
        self.salt += 1
        o = Order(maker, ZERO_ADDRESS, sell, buy, m, t, ZERO_ADDRESS, 0, self.now + 100, self.salt)
        signed = SignedOrder(o, bytes(65), DOMAIN.order_hash(o))
        return self.results([self.engine.submit(signed, now=self.now)])

    def order(self, *a: int) -> tuple[SignedOrder, int, TimeInForce]:
        maker = TRADERS[a[0] % len(TRADERS)]
        base_token = BASES[a[1] % 2]
        scale = SCALES[a[2] % len(SCALES)]
        price = PRICES[a[3] % len(PRICES)]
        lots = 1 + a[4] % 12
        base = lots * price.denominator * scale
        quote = max(1, lots * price.numerator * scale + JITTER[a[5] % len(JITTER)])
        taker = ([ZERO_ADDRESS] * 6 + TRADERS[:2])[a[6] % 8]
        expiry = self.now + 1 + a[7] % 300
        is_ask = a[8] % 2
        sell, buy, m, t = (
            (base_token, QUOTE, base, quote) if is_ask else (QUOTE, base_token, quote, base)
        )
        fee = [0, 0, 1, t // 3, t][a[9] % 5]
        self.salt += 1
        o = Order(
            maker, taker, sell, buy, m, t, FEES if fee else ZERO_ADDRESS, fee, expiry, self.salt
        )
        filled = min([0, 0, 1, m // 2, m - 1][a[10] % 5], m - 1)
        return SignedOrder(o, bytes(65), DOMAIN.order_hash(o)), filled, TIFS[a[11] % len(TIFS)]

    def state(self) -> dict[str, Any]:
        """All the book holds (its snapshot) and what it offers."""
        depth = {}
        for p in self.book.pairs:
            depth[p.base] = [
                [[str(d.price), d.fillable, d.orders] for d in p.depth(side, 100)]
                for side in (p.bids.side, p.asks.side)
            ]
        return {"snapshot": self.book.snapshot(), "depth": depth, "next": self.book.next_expiry()}


def _match(m: Match) -> list[Any]:
    a = m.amounts
    return [
        m.resting.hash.hex(),
        m.incoming.hash.hex(),
        a.left_filled,
        a.right_filled,
        a.left_fee,
        a.right_fee,
        m.incoming_side.value,
    ]


def _result(r: MatchResult) -> list[Any]:
    return [
        r.order.hash.hex(),
        r.outcome.value,
        [_match(m) for m in r.matches],
        [[h.hex(), reason.value] for h, reason in r.removed],
        r.remaining,
    ]


def run(ops: list[list[Any]]) -> dict[str, Any]:
    """Each operation's result (or error) and a digest of the whole state after it; the
    final state in full."""
    d = Driver()
    steps: list[Any] = []
    for op in ops:
        out = d.step(op)
        state = json.dumps(d.state(), sort_keys=True, default=str)
        steps.append([out, hashlib.sha256(state.encode()).hexdigest()])
    return {"steps": steps, "final": json.loads(json.dumps(d.state(), default=str))}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
