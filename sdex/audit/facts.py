"""What the audit knows: plain values read from the chain, the nodes and order files.

Collection (``sdex.audit.collect``) fills these in; the checks (``sdex.audit.checks``) only
read them, so a test can build or mutate facts and run the checks without any I/O.
Hashes are 32-byte ``bytes``, addresses lower-case ``0x`` hex, amounts ints.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sdex.chain import FillEvent, OrderState
from sdex.order import Domain, SignedOrder


@dataclass(frozen=True, slots=True)
class Transfer:
    """One ERC-20 ``Transfer`` log: ``amount`` of ``token`` from ``sender`` to ``recipient``."""

    token: str
    sender: str
    recipient: str
    amount: int


@dataclass(frozen=True, slots=True)
class Cancel:
    """An ``OrderCancelled`` log."""

    order_hash: bytes
    maker: str
    block_number: int
    log_index: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class SaltCancel:
    """An ``OrdersCancelledUpTo`` log: ``maker``'s orders with a salt below ``min_valid_salt``
    are cancelled from this log on."""

    maker: str
    min_valid_salt: int
    block_number: int
    log_index: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class OrderCopy:
    """One signed order as one source gave it.

    ``signed.hash`` is computed here under the deployment's domain; ``claimed_hash`` is the
    hash the source filed it under (a record's ``metaData.orderHash``, the hash the audit asked
    a node for, a file entry's ``orderHash``), or None when the source named none.
    """

    signed: SignedOrder
    source: str
    claimed_hash: bytes | None = None


@dataclass(frozen=True, slots=True)
class BookEntry:
    """An open record of a node's book: its status and the filled amount the node claims."""

    order_hash: bytes  # the hash of the order the record holds, computed by the audit
    status: str
    filled: int


@dataclass(frozen=True, slots=True)
class ClosedEntry:
    """A record a node closed by its own decision (``removed``: dropped, killed, self-trade,
    settlement failures; ``cancelled``), with what it then counted as filled and in flight."""

    order_hash: bytes  # the hash of the order the record holds, computed by the audit
    status: str
    reason: str
    filled: int  # metaData.filledMakerAmount
    pending: int  # metaData.pendingMakerAmount: matches in flight when it answered
    cancel_block: int | None = None  # metaData.cancelledAtBlock: the node's block at its cancel
    cancel_nonce: int | None = None  # metaData.cancelledAtNonce: its operator's next nonce then


ClaimedFill = FillEvent
"""A fill as a node's ``GET /v1/fills`` states it: the same shape as the chain's."""


@dataclass(slots=True)
class NodeFacts:
    """What one node said. ``error`` is set when it could not be read in full."""

    url: str
    error: str | None = None
    error_kind: str = "node_unreachable"  # or "node_bad_answer": it answered off the API
    block: int | None = None  # the node's chain checkpoint, when /health reports one
    target: int | None = None  # the chain head the audit waited for the node to reach
    waited: float = 0.0  # seconds the audit waited for it
    operator: str | None = None  # its settlement sender, as its /health names it (lower case)
    book: dict[bytes, BookEntry] = field(default_factory=dict)
    closed: dict[bytes, ClosedEntry] = field(default_factory=dict)
    fills: list[ClaimedFill] = field(default_factory=list)


@dataclass(slots=True)
class ChainFacts:
    """The Exchange's record from ``from_block`` to ``head``, and state read at ``head``."""

    domain: Domain
    from_block: int
    head: int
    fills: list[FillEvent] = field(default_factory=list)  # chain order: (block, log index)
    cancels: list[Cancel] = field(default_factory=list)
    salt_cancels: list[SaltCancel] = field(default_factory=list)
    skipped: int = 0  # MatchSkipped logs (a failed match of a batch; nothing to check)
    # every ERC-20 Transfer log of each transaction that holds an OrderFilled
    transfers: dict[str, list[Transfer]] = field(default_factory=dict)
    block_times: dict[int, int] = field(default_factory=dict)  # blocks that hold fills
    # getOrderStates at head for every order copy, by (order hash, signature)
    states: dict[tuple[bytes, bytes], OrderState] = field(default_factory=dict)
    contracts: set[str] = field(default_factory=set)  # makers that have code at head
    # each settlement transaction's signer and nonce, by tx hash (lower case)
    senders: dict[str, tuple[str, int]] = field(default_factory=dict)
    # (address, block): the address's transaction count at that block (the nonces it had
    # used), read for the nodes' soft cancels that name no nonce
    nonces_at: dict[tuple[str, int], int] = field(default_factory=dict)
    # settlement transactions whose calldata was read: the entry point decoded, by tx hash,
    # or why it could not be (sent to another contract, not a settlement's arguments)
    decoded: dict[str, str] = field(default_factory=dict)
    undecoded: dict[str, str] = field(default_factory=dict)

    def states_by_hash(self) -> dict[bytes, OrderState]:
        """One state row per order hash (status and filled do not depend on the signature)."""
        return {h: s for (h, _), s in self.states.items()}


@dataclass(slots=True)
class Facts:
    """Everything the checks look at."""

    chain: ChainFacts
    orders: list[OrderCopy] = field(default_factory=list)
    nodes: list[NodeFacts] = field(default_factory=list)

    def copies_by_hash(self) -> dict[bytes, list[OrderCopy]]:
        """Order copies by their computed hash (what a fill event names)."""
        out: dict[bytes, list[OrderCopy]] = defaultdict(list)
        for c in self.orders:
            out[c.signed.hash].append(c)
        return dict(out)
