"""One accepted order's record as the order registry (``sdex.node.registry``) holds it in
memory (``Record``), and the JSON text made of it: its ``metaData`` formatted directly
(``meta_text``) and its websocket event (``order_event_text``), the order's own text encoded
once a record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _string

from sdex.matching.match import TimeInForce
from sdex.model import OrderStatus
from sdex.node.events import Event, encode_json
from sdex.order import SignedOrder
from sdex.store import StoredOrder

Row = tuple[str, str, int, str]
"""A store update: (hash hex, status, filled, reason)."""


class AlreadyHeld(ValueError):
    """An order accepted again while it is held (in memory or evicted)."""


@dataclass(slots=True)
class Record:
    """What the node remembers of an accepted order, also after it left the book.

    ``status``, ``filled`` and ``reason`` are the order's as stored and published, changed
    only by ``OrderRegistry``; while the book holds the order open, its live fill state is
    the book's (``OrderRegistry.meta``)."""

    signed: SignedOrder
    seq: int
    source: str
    status: OrderStatus = OrderStatus.OPEN
    filled: int = 0
    reason: str = ""
    created_at: float = field(default_factory=time.time)
    failures: int = 0
    cancel_signature: bytes | None = None
    """The maker's soft-cancel signature, kept to prove the cancel to peers."""
    cancel_at: tuple[int, int | None] | None = None
    """Where this node stood when it took the soft cancel: its chain checkpoint block and
    the operator's next settlement nonce (None: not known then). Shown as ``metaData``'s
    ``cancelledAtBlock``/``cancelledAtNonce``: a settlement of the order this node signs
    after the cancel has a nonce at or above it (``sdex audit``'s ``node_cancel_kept``)."""
    cancel_stored: bool = False
    """A wallet's cancel of it (signature and closed status) is committed: a repeat, or a
    replay of the public signature, writes nothing more."""
    tif: TimeInForce = TimeInForce.GTC
    announced: bool = False
    """Gossiped (or received by gossip): only an order that rests is ever announced, and
    only announced open orders are offered to peers (snapshot, digest, fetch)."""
    json: dict[str, str] = field(init=False, repr=False)
    json_text: str | None = field(default=None, init=False, repr=False)
    """The order's JSON text (``json`` encoded as ``json.dumps`` does), once needed."""

    def __post_init__(self) -> None:
        self.json = self.signed.to_json()

    def text(self) -> str:
        """The order's JSON text, encoded once for all its uses: the store's row, every
        websocket event of the order, the gossip pushes to every peer (~7 us each)."""
        if self.json_text is None:
            self.json_text = encode_json(self.json)
        return self.json_text

    def row(self) -> Row:
        return (self.signed.hash_hex, self.status, self.filled, self.reason)

    @classmethod
    def of_stored(cls, s: StoredOrder) -> Record:
        """A stored order's record (``NEW``: the registry admits it with ``s.status``)."""
        rec = cls(s.signed, s.seq, s.source, OrderStatus.NEW, s.filled, s.reason, s.created_at)
        rec.tif, rec.cancel_signature = _TIFS.get(s.tif, TimeInForce.GTC), s.cancel_signature
        rec.cancel_at = s.cancel_at
        return rec


_TIFS = {t.value: t for t in TimeInForce}


def meta_text(
    hash_hex: str,
    status: str,
    filled: int,
    pending: int,
    fillable: int,
    remaining: int,
    created_at: float,
    source: str,
    reason: str,
    cancel_at: tuple[int, int | None] | None = None,
) -> str:
    """``encode_json`` of ``HeldOrders.meta``'s dict of these values, formatted directly
    (a dict and the C encoder cost ~9 us a record; this ~1.5 us). The hash is 0x-hex and
    the status an ``OrderStatus`` name, neither needs escaping; the numbers are ints;
    ``createdAt`` a finite float (``repr`` is what ``json`` writes for it); ``cancel_at``
    adds ``cancel_fields``."""
    return (
        f'{{"orderHash": "{hash_hex}", "status": "{status}", "filledMakerAmount": "{filled}", '
        f'"pendingMakerAmount": "{pending}", "remainingFillableMakerAmount": "{fillable}", '
        f'"remainingMakerAmount": "{remaining}", "createdAt": {float(created_at)!r}, '
        f'"source": {_string(source)}, "reason": {_string(reason)}{cancel_text(cancel_at)}}}'
    )


MAX_CANCEL_NONCE = 2**63 - 1
"""The highest operator nonce a soft cancel names (what SQLite's INTEGER holds; no account
nears it): a higher one is a hostile or broken endpoint's count (``cancel_position``)."""


def cancel_fields(cancel_at: tuple[int, int | None] | None) -> dict[str, int]:
    """``metaData``'s ``cancelledAtBlock`` and ``cancelledAtNonce`` of a soft cancel this
    node took (``Record.cancel_at``; the nonce only when known); none without one."""
    if cancel_at is None:
        return {}
    block, nonce = cancel_at
    return {"cancelledAtBlock": block} | ({} if nonce is None else {"cancelledAtNonce": nonce})


def cancel_text(cancel_at: tuple[int, int | None] | None) -> str:
    """``cancel_fields`` as JSON members, each led by ``", "`` (ints: nothing to escape)."""
    return "".join(f', "{k}": {v}' for k, v in cancel_fields(cancel_at).items())


def hash_of(hash_hex: str) -> bytes | None:
    """The 32 bytes a 0x-hex order hash names (None: it names no order)."""
    try:
        h = bytes.fromhex(hash_hex.removeprefix("0x"))
    except ValueError:
        return None
    return h if len(h) == 32 else None


EVENT_META_KEYS = (
    "orderHash",
    "status",
    "filledMakerAmount",
    "pendingMakerAmount",
    "remainingFillableMakerAmount",
    "remainingMakerAmount",
    "createdAt",
    "source",
    "reason",
    "publishedAt",
    "sentAt",
)
"""An order event's ``metaData`` keys, in order, as ``HeldOrders.publish`` makes them
(``HeldOrders.meta``'s, then ``publishedAt``) and ``order_event_text`` stamps ``sentAt``."""


def event_meta_text(meta: dict[str, object]) -> str:
    """``encode_json(meta)`` of an order event's ``metaData``, formatted directly when its
    keys are ``EVENT_META_KEYS`` in order, the strings' values ``str``s and the times finite
    ``float``s (each string escaped by the encoder's own ``encode_basestring_ascii``, each
    float its ``repr``, what ``json`` writes): ~2 us instead of the dict's ~4 (cpu30). Any
    other shape: encoded."""
    if tuple(meta) != EVENT_META_KEYS:
        return encode_json(meta)
    h, st, f, p, rf, rm, ca, src, rs, pub, sent = meta.values()
    # (unrolled, no loop over positions: ~1 us less an event, two a settled match; anvil63)
    if (
        type(ca) is not float
        or type(pub) is not float
        or type(sent) is not float
        or ca - ca != 0.0  # (inf or nan)
        or pub - pub != 0.0
        or sent - sent != 0.0
        or not isinstance(h, str)
        or not isinstance(st, str)
        or not isinstance(f, str)
        or not isinstance(p, str)
        or not isinstance(rf, str)
        or not isinstance(rm, str)
        or not isinstance(src, str)
        or not isinstance(rs, str)
    ):
        return encode_json(meta)
    return (
        f'{{"orderHash": {_string(h)}, "status": {_string(st)}, '
        f'"filledMakerAmount": {_string(f)}, "pendingMakerAmount": {_string(p)}, '
        f'"remainingFillableMakerAmount": {_string(rf)}, "remainingMakerAmount": {_string(rm)}, '
        f'"createdAt": {ca!r}, "source": {_string(src)}, "reason": {_string(rs)}, '
        f'"publishedAt": {pub!r}, "sentAt": {sent!r}}}'
    )


def order_event_text(ev: Event, rec: Record, text: str | None = None) -> str:
    """``encode_json(ev)`` of an order event, with the order's text encoded once a record
    (``Record.text``: also its store row's, and its gossip pushes'; ``text``: that text as
    it was when the event was published: a record closed since has dropped it, and it
    would be encoded again, ~2.5 us, settle27), its ``metaData`` stamped ``sentAt`` first
    and formatted directly (``event_meta_text``): made by the first subscriber's sender as
    it writes it."""
    meta = ev["metaData"]
    meta["sentAt"] = time.time()
    name = ev["event"]
    event = _string(name) if isinstance(name, str) else encode_json(name)
    return (
        f'{{"seq": {ev["seq"]}, "type": "order", "event": {event}, '
        f'"order": {text if text is not None else rec.text()}, '
        f'"metaData": {event_meta_text(meta)}}}'
    )
