"""Why an order is rejected: stable codes for the API's error JSON and for peer scoring.

A rejection is data, not an exception (0x-mesh ``ordervalidator`` style): each code has the
SRA field and field code it maps to, and whether it proves the sender wrong (a forged or
malformed order) or just reflects chain state that may have changed (unfunded, filled).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sdex.errors import FieldCode, FieldError
from sdex.model import MAX_SIGNATURE_BYTES, VALIDATION_FAILED, RemovalReason, error_body


class RejectionCode(enum.Enum):
    """(field, SRA field code, message, proves_bad_faith)"""

    MALFORMED = ("order", FieldCode.INCORRECT_FORMAT, "the order JSON is malformed", True)
    INVALID_AMOUNTS = (
        "makerAmount",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the order can never be filled",
        True,
    )
    INVALID_SIGNATURE = (
        "signature",
        FieldCode.INVALID_SIGNATURE_OR_HASH,
        # (wallet74: a wallet signing for another domain, another SDEX version's, read only
        # this; the domain a node checks is its order_config's, a bounded constant)
        "the signature is not the maker's (or not over this node's EIP-712 domain: "
        "GET /v1/order_config gives it)",
        True,
    )
    SIGNATURE_TOO_LONG = (
        "signature",
        FieldCode.VALUE_OUT_OF_RANGE,
        f"the signature is longer than {MAX_SIGNATURE_BYTES} bytes",
        False,  # (no bad faith: an older version took it, and so may its node still)
    )
    EXPIRED = ("expiry", FieldCode.VALUE_OUT_OF_RANGE, "the order has expired", False)
    CANCELLED = ("salt", FieldCode.VALUE_OUT_OF_RANGE, "the order is cancelled on chain", False)
    FULLY_FILLED = (
        "makerAmount",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the order is fully filled on chain",
        False,
    )
    UNFUNDED = (
        "makerAmount",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the maker's balance or allowance is zero",
        False,
    )
    TOKEN_NOT_SUPPORTED = (
        "makerToken",
        FieldCode.ADDRESS_NOT_SUPPORTED,
        "this node does not list that token",
        False,
    )
    FEE_REQUIRED = (
        "feeAmount",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the order does not pay this node's fee",
        False,
    )
    MAKER_LIMIT = (
        "maker",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the maker has too many open orders",
        False,
    )
    SELF_TRADE = (
        "maker",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the order would trade with the same maker's resting order",
        False,
    )
    TAKER_NEVER_TRADES = (
        "taker",
        FieldCode.ADDRESS_NOT_SUPPORTED,
        "the order's taker can never be its counterparty: the order would rest forever",
        False,  # (no bad faith: older versions took such orders, and so may their nodes still)
    )
    RESTRICTED_LIMIT = (
        "taker",
        FieldCode.VALUE_OUT_OF_RANGE,
        "too many open orders restricted to one taker",
        False,  # (no bad faith: each node sets its own bounds)
    )
    BOOK_FULL = ("order", FieldCode.VALUE_OUT_OF_RANGE, "this node's book is full", False)
    BELOW_MINIMUM = (
        "makerAmount",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the order is smaller than this node's minimum for its token",
        False,  # (no bad faith: each node sets its own minimums)
    )
    CHAIN_UNAVAILABLE = (
        "order",
        FieldCode.INCORRECT_FORMAT,
        "the chain could not be read; try again",
        False,
    )
    THROTTLED = (
        "order",
        FieldCode.VALUE_OUT_OF_RANGE,
        "the sender's budget of chain reads is spent (its orders that need one: a contract "
        "maker's, a new account's); try again later",
        False,
    )

    def __init__(self, fld: str, field_code: int, message: str, bad_faith: bool) -> None:
        self.field = fld
        self.field_code = field_code
        self.message = message
        self.bad_faith = bad_faith

    @property
    def removal(self) -> RemovalReason | None:
        """Why a booked order leaves when the chain's verdict is this code: None while the
        chain would still fill it (unfunded only waits for funds)."""
        if self is RejectionCode.UNFUNDED:
            return None
        return _REMOVAL_BY_CODE.get(self.name, RemovalReason.INVALID)


_REMOVAL_BY_CODE = {
    "FULLY_FILLED": RemovalReason.FILLED,
    "CANCELLED": RemovalReason.CANCELLED,
    "EXPIRED": RemovalReason.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class Rejection:
    code: RejectionCode
    errors: list[FieldError] = field(default_factory=list)
    order_hash: bytes | None = field(default=None, compare=False)
    """The judged order's hash, once it parsed (``sdex.node.refused`` keys its verdicts by
    it: the copy is not parsed and hashed again)."""
    detail: dict[str, str] | None = None
    """Why, in fields a program reads (the error body's ``detail``; ``CHAIN_UNAVAILABLE``:
    ``chainStatus`` and ``why``), beside the sentence of ``errors`` (left48: the wallet cut
    the node's sentence apart by regex to tell why)."""
    no_code_at: tuple[str, int] | None = field(default=None, compare=False)
    """(maker, block): an ``INVALID_SIGNATURE`` the chain gave at that block, where the
    maker had no code. Not shown: a peer's copy is charged only once it still has none a
    few blocks later (``sdex.node.unproven``: a wallet deployed in a block this node has
    not seen yet, signer78)."""

    @property
    def bad_faith(self) -> bool:
        """Does this verdict on a peer's copy prove its sender's bad faith? Its code's word,
        but for a contract maker's own refusal of its signature (``contract_refused``)."""
        return self.code.bad_faith and (self.detail or {}).get("signer") != "contract"

    def of_order(self, order_hash: bytes) -> Rejection:
        """This rejection, naming the order judged."""
        return Rejection(self.code, self.errors, order_hash, self.detail, self.no_code_at)

    @classmethod
    def of(cls, code: RejectionCode, reason: str | None = None) -> Rejection:
        return cls(code, [FieldError(code.field, code.field_code, reason or code.message)])

    def to_json(self) -> dict[str, object]:
        """The SRA error body: code 100 (validation failed) with field errors."""
        body = error_body(
            VALIDATION_FAILED, "Validation Failed", [e.to_json() for e in self.errors]
        )
        body = {**body, "rejection": self.code.name}
        return body if self.detail is None else {**body, "detail": dict(self.detail)}


def contract_refused() -> Rejection:
    """``INVALID_SIGNATURE`` as the maker's contract answered it (EIP-1271, the maker has
    code: ``sdex.mirror.sigcache``'s ``by_contract``). No bad faith of a peer that passed the
    order on (review78): a wallet's answer may change from one block to the next (its owner
    rotated, a view that reads the block), and four orders of a wallet whose owner was
    rotated once had every node that fetched them ban the honest node they came from."""
    said = "the maker's contract (EIP-1271 isValidSignature) does not take this signature now"
    r = Rejection.of(RejectionCode.INVALID_SIGNATURE, said)
    return Rejection(r.code, r.errors, detail={"signer": "contract"})


FOLLOWING = frozenset({"ok", "replaying"})
"""The watcher's statuses at which an order's chain read is made: it follows the chain (a
reset's replay as the start's: the read is learned once the replay passes it)."""

NOT_FOLLOWING = {
    "behind": "its chain backend is behind the chain",
    "unreachable": "it cannot reach the chain",
    "wrong-chain": "the chain has no deployment of its Exchange (a devnet reset?)",
    "failing": "it cannot apply the chain's changes (its store refuses or stalls, or a defect)",
}
"""Why the node does not follow the chain, by the watcher's status (``/health`` has more)."""


def not_following(status: str) -> Rejection:
    """A wallet's answer while the watcher's ``status`` is not ``ok``: what is true, said
    and in fields (``detail``: ``chainStatus``, ``why``)."""
    why = NOT_FOLLOWING.get(status, f"its chain watcher is {status}")
    said = f"the node does not follow the chain now: {why}; try again"
    r = Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, said)
    return Rejection(r.code, r.errors, detail={"chainStatus": status, "why": why})


def restricted_full(who: str, held: int, most: int) -> Rejection:
    """``RESTRICTED_LIMIT``: ``who`` holds its most open orders restricted to one taker."""
    return Rejection.of(
        RejectionCode.RESTRICTED_LIMIT,
        f"{who} holds {held} open orders restricted to one taker, its most ({most})",
    )


def read_failed(e: Exception) -> Rejection:
    """``CHAIN_UNAVAILABLE``: the order's chain read raised ``e``."""
    return Rejection.of(RejectionCode.CHAIN_UNAVAILABLE, f"chain read failed: {type(e).__name__}")
