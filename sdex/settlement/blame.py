"""Whom a failed settlement that chain state read afterwards does not explain is blamed on,
from what it ran against (``Evidence``, read by ``sdex.settlement.evidence``), and what the
node remembers of the makers and pairs that failed settlements (contract33).

The rule: an order is blamed only on evidence of the state the settlement met. Its maker's
funds short at that state (read exactly: the block before the settlement's, with no
transfer of the account earlier in its block or in its own transaction), its signature
invalid to its wallet called alone (the Exchange as the caller, the transaction's gas and
fees), or, when nothing else is found, the contract-signed side of a match whose other
side is signed by its maker's own key and was read exactly (an ECDSA signature does not
change, that maker's funds were there: only the wallet can answer otherwise inside the
settlement, by the gas left, the origin or the block), its funds moved by nobody else,
if the match settles with the
wallet's code answering every signature valid (review38: a token that refuses the EOA's
transfers, a blacklist, failed it whatever the wallet answered); or the side whose token
refuses to move its maker's funds (a probing ``transferFrom`` from the Exchange at that
state reverts) while the other side's moves and it moves for others (a pause refuses all:
review45) (blame39: a blacklisted EOA was never blamed, its order stayed for ever), or,
both moving, the side whose maker the other side's token refuses to credit (blame44).
Nothing certain (two wallets that
both answer valid alone, an account moved in the same block, a transaction the chain does
not know): nobody is blamed; the pair is tried again, pre-flighted, and after
``PAIR_TRIES`` failures not paired again for ``PAIR_BAR_SECONDS`` (both orders stay).
Before, the EOA's sandwich (its funds out the block before a settlement, back the block
after) was read as unexplained and blamed on the honest wallet facing it, removed after 3.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from sdex.chain import OrderState
from sdex.ingest.verify import ecdsa_ok
from sdex.matching.match import Match
from sdex.order import SignedOrder
from sdex.settlement.diagnose import diagnose

UNLIMITED = 2**256 - 1
PAIR_TRIES = 3
"""Failed settlements of one pair with nobody certain to blame before it is barred."""
PAIR_BAR_SECONDS = 900.0
"""How long a barred pair is not matched again (both orders stay in the book)."""
PAIRS_KEPT = 4096
"""Pairs remembered (least recently failed first out)."""
HOSTILE_SCORE = 1.5
"""A maker blamed this much (decayed: twice within a half-life) has its orders pre-flighted
alone and removed at their first blamed failure, not their third: one blame is an honest
maker's bad luck (its funds short once)."""
MEMORY_HALF_LIFE = 1800.0
"""Seconds in which a maker's blame halves."""
MAKERS_KEPT = 4096
"""Makers remembered (least recently blamed first out)."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What a failed settlement ran against, per order of its matches."""

    states: dict[bytes, OrderState]
    """Each order read at the state the settlement ran against (the block before its own)."""
    exact: frozenset[tuple[str, str]]
    """The (maker, token) accounts (lower case) whose funds in ``states`` are the ones the
    settlement met: no transfer or approval of them earlier in its block, nor in its own
    transaction (a batch's earlier matches)."""
    signatures: dict[bytes, bool]
    """Contract-signed orders: their wallet's ``isValidSignature`` alone (absent: not answered)."""
    moved_by_others: frozenset[tuple[str, str]] = frozenset()
    """Accounts a transfer out of was sent by another account (a fill of another of its
    orders, a spender's ``transferFrom``) before the settlement in its block, or for a match
    never sent in the last blocks: never blamed as the contract-signed side (review38)."""
    stubbed: dict[tuple[bytes, bytes], bool] = field(default_factory=dict)
    """Matches (resting hash, incoming hash) of an own-key order and a contract-signed one:
    whether the match settles alone with the wallet's code answering every signature valid
    (absent: not run). Only if it does can the wallet be what failed it (review38)."""
    refused: dict[tuple[bytes, bytes], bytes] = field(default_factory=dict)
    """Matches (resting hash, incoming hash) of which one leg's token refused to move its
    maker's funds (``transferFrom`` to a fresh address, from the Exchange, at that state,
    both makers funded there) while the other's moved: that order's hash (blame39: a
    blacklisted EOA); both moving, the order whose maker the other leg's token refuses to
    credit (blame44); for a sent match, only of an account nothing moved before it in its
    block."""


def own_key(so: SignedOrder) -> bool:
    """Whether ``so`` is signed by its maker's own key (ECDSA): intake's verdict, remembered
    (``sdex.ingest.verify.ecdsa_ok``; ``Settler._take`` asks of each queued match at each
    batch, and a recovery is ~0.05-0.3 ms)."""
    return ecdsa_ok(so) is True


def contract_side(m: Match) -> SignedOrder | None:
    """The order of ``m`` signed by a contract (EIP-1271), when the other is signed by its
    maker's own key (None: both or neither)."""
    resting, incoming = (own_key(so) for so in (m.resting, m.incoming))
    if resting == incoming:
        return None
    return m.incoming if resting else m.resting


def account(so: SignedOrder) -> tuple[str, str]:
    """The (maker, token) account, lower case, an order's fills are paid from."""
    return so.order.maker.lower(), so.order.maker_token.lower()


def blame(m: Match, ev: Evidence | None) -> tuple[SignedOrder, ...]:
    """The orders of ``m`` (a failed match the chain read afterwards does not explain) that
    the evidence blames; () when nothing is certain."""
    if ev is None:
        return ()
    sides = (m.resting, m.incoming)
    rest, inc = ev.states.get(m.resting.hash), ev.states.get(m.incoming.hash)
    if rest is None or inc is None:
        return ()
    # Funds not read exactly count as enough: only a certain shortfall blames.
    exact = [account(so) in ev.exact for so in sides]
    if not exact[0]:
        rest = replace(rest, maker_balance=UNLIMITED, maker_allowance=UNLIMITED)
    if not exact[1]:
        inc = replace(inc, maker_balance=UNLIMITED, maker_allowance=UNLIMITED)
    verdicts = diagnose(m, rest, inc)
    guilty = [so for so, v in zip(sides, verdicts, strict=True) if v.guilty]
    guilty += [
        so
        for so in sides
        if so not in guilty and not own_key(so) and ev.signatures.get(so.hash) is False
    ]
    if guilty:
        return tuple(guilty)
    # The leg whose token refuses its maker (a blacklist) while the other's moves, both
    # funded at that state (blame39; ``sdex.settlement.evidence``).
    named = ev.refused.get((m.resting.hash, m.incoming.hash))
    if named is not None:
        return (m.resting,) if named == m.resting.hash else (m.incoming,)
    # The contract side facing an exact ECDSA one, its own funds moved by nobody else (the
    # stubbed match ran at the block before: another's fill of its other order in the
    # block, and a gift back after, would blame it; review38).
    c = contract_side(m)
    stubbed = ev.stubbed.get((m.resting.hash, m.incoming.hash))
    if c is None or stubbed is not True or account(c) in ev.moved_by_others:
        return ()
    return (c,) if exact[1 if c is m.resting else 0] else ()


class MakerMemory:
    """Per maker, how much it was blamed for failed settlements, halving every
    ``half_life`` seconds; at most ``kept`` makers (least recently blamed go first). In
    memory only: a restart forgets, and a hostile maker then has at most the tries a new
    one has (persisting it would cost a store table for a rare case)."""

    def __init__(
        self,
        kept: int = MAKERS_KEPT,
        half_life: float = MEMORY_HALF_LIFE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kept = kept
        self.half_life = half_life
        self.clock = clock
        self._marks: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._marks)

    def score(self, maker: str) -> float:
        got = self._marks.get(maker.lower())
        if got is None:
            return 0.0
        score, at = got
        return score * math.pow(0.5, max(0.0, self.clock() - at) / self.half_life)

    def note(self, maker: str) -> float:
        """``maker`` was blamed once more: its score now."""
        key = maker.lower()
        score = self.score(key) + 1.0
        self._marks[key] = (score, self.clock())
        self._marks.move_to_end(key)
        while len(self._marks) > self.kept:
            self._marks.popitem(last=False)
        return score

    def hostile(self, maker: str) -> bool:
        return bool(self._marks) and self.score(maker) >= HOSTILE_SCORE


class PairBar:
    """Pairs of orders whose settlements failed with nobody certain to blame: counted, and
    after ``tries`` not matched together for ``seconds``; at most ``kept`` pairs."""

    def __init__(
        self,
        tries: int = PAIR_TRIES,
        seconds: float = PAIR_BAR_SECONDS,
        kept: int = PAIRS_KEPT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tries = tries
        self.seconds = seconds
        self.kept = kept
        self.clock = clock
        self._pairs: OrderedDict[tuple[bytes, bytes], tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pairs)

    @staticmethod
    def _key(a: bytes, b: bytes) -> tuple[bytes, bytes]:
        return (a, b) if a < b else (b, a)

    def note(self, a: bytes, b: bytes) -> bool:
        """A failure of the pair (``a``, ``b``): whether it is barred now."""
        key = self._key(a, b)
        count, _ = self._pairs.get(key, (0, 0.0))
        self._pairs[key] = (count + 1, self.clock())
        self._pairs.move_to_end(key)
        while len(self._pairs) > self.kept:
            self._pairs.popitem(last=False)
        return count + 1 >= self.tries

    def barred(self, a: bytes, b: bytes) -> bool:
        if not self._pairs:
            return False
        got = self._pairs.get(self._key(a, b))
        if got is None or got[0] < self.tries:
            return False
        if self.clock() - got[1] >= self.seconds:  # (served: tried again, counted anew)
            del self._pairs[self._key(a, b)]
            return False
        return True


PAIR_REFUSALS = ("ZeroFillAmount(", "PricesDoNotCross(")
"""The contract's refusals of a pair's amounts (each names both orders)."""


def pair_refused(reason: str) -> bool:
    """Whether a failed match's ``reason`` is the contract refusing the pair's amounts: the
    same pair at the same filled amounts is refused again, whoever settles it."""
    return reason.startswith(PAIR_REFUSALS)


class RefusedPairs:
    """Pairs whose amounts the contract refused (``pair_refused``), with both orders' filled
    amounts in the book then: not matched together again while both are unchanged (a fill,
    or the chain's filled amount read into the book, lets them try again). chaos55: a pair
    whose book amounts the chain did not share was matched, refused with ``ZeroFillAmount``,
    released and matched again 7,876 times in 1.5 minutes. At most ``kept`` pairs."""

    def __init__(self, kept: int = PAIRS_KEPT) -> None:
        self.kept = kept
        self._pairs: OrderedDict[tuple[bytes, bytes], tuple[int, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pairs)

    @staticmethod
    def _key(a: bytes, fa: int, b: bytes, fb: int) -> tuple[tuple[bytes, bytes], tuple[int, int]]:
        return ((a, b), (fa, fb)) if a < b else ((b, a), (fb, fa))

    def note(self, a: bytes, a_filled: int, b: bytes, b_filled: int) -> None:
        """The pair (``a``, ``b``) refused with these filled amounts (in the book)."""
        key, filled = self._key(a, a_filled, b, b_filled)
        self._pairs[key] = filled
        self._pairs.move_to_end(key)
        while len(self._pairs) > self.kept:
            self._pairs.popitem(last=False)

    def barred(self, a: bytes, a_filled: int, b: bytes, b_filled: int) -> bool:
        """Whether the pair was refused at these very filled amounts. (Kept, not forgotten,
        when they differ: a filled amount the watcher and a diagnosis set back and forth
        would free the pair at each swing.)"""
        if not self._pairs:
            return False
        key, filled = self._key(a, a_filled, b, b_filled)
        return self._pairs.get(key) == filled
