"""Whether a block header's fields are the ones its hash is of (``sealed``): Keccak-256 of
their RLP, in the order Ethereum's forks added them. watch89: a block announced by the
newHeads feed that holds our settlement alone is applied without a read (``sdex.watch.
blocks.own_alone``; its hash our receipt's, its ``transactionsRoot`` our transaction's), and
its stamp, the feed's word only, moved the node's chain clock: a feed that forged it a day
ahead had the node close acknowledged resting orders as expired. Such a block is taken
unread only when its header is sealed; else it is read as any other."""

from __future__ import annotations

import re

from sdex.chain.tx import RlpItem, rlp
from sdex.keccak import keccak

FIELDS: tuple[tuple[str, str], ...] = (
    ("parentHash", "h32"),
    ("sha3Uncles", "h32"),
    ("miner", "h20"),
    ("stateRoot", "h32"),
    ("transactionsRoot", "h32"),
    ("receiptsRoot", "h32"),
    ("logsBloom", "h256"),
    ("difficulty", "q"),
    ("number", "q"),
    ("gasLimit", "q"),
    ("gasUsed", "q"),
    ("timestamp", "q"),
    ("extraData", "b"),
    ("mixHash", "h32"),
    ("nonce", "h8"),
)
"""A header's fields before London, in their RLP order, with their kinds (``hN``: N bytes of
hex; ``q``: a quantity; ``b``: bytes of any length, at most ``MAX_EXTRA``)."""
LATER: tuple[tuple[str, str], ...] = (
    ("baseFeePerGas", "q"),  # London
    ("withdrawalsRoot", "h32"),  # Shanghai
    ("blobGasUsed", "q"),  # Cancun
    ("excessBlobGas", "q"),
    ("parentBeaconBlockRoot", "h32"),
    ("requestsHash", "h32"),  # Prague
)
"""The fields forks added, in order: a header has a prefix of them (the first missing ends
it; one after a missing one is not a header of any fork: not sealed)."""
MAX_EXTRA = 1024
"""Bytes of ``extraData`` at most (32 on mainnet; a devnet's may be longer)."""
_HEX = re.compile(r"0x(?:[0-9a-fA-F]{2})*")
_QUANTITY = re.compile(r"0x(?:0|[1-9a-fA-F][0-9a-fA-F]{0,63})")


def _item(value: object, kind: str) -> RlpItem | None:
    """``value`` as an RLP item of ``kind`` (None: not one)."""
    if not isinstance(value, str) or len(value) > 2 + 2 * MAX_EXTRA:
        return None
    if kind == "q":
        return int(value, 16) if _QUANTITY.fullmatch(value) else None
    if not _HEX.fullmatch(value):
        return None
    raw = bytes.fromhex(value[2:])
    if kind != "b" and len(raw) != int(kind[1:]):
        return None
    return raw


def sealed(raw: object) -> bool:
    """Whether ``raw`` (a header as an RPC gives it) has a ``hash`` that is Keccak-256 of
    the RLP of its fields; any field missing or odd (another fork's, a feed's forgery): no."""
    if not isinstance(raw, dict) or not isinstance(said := raw.get("hash"), str):
        return False
    items: list[RlpItem] = []
    for name, kind in FIELDS:
        if (item := _item(raw.get(name), kind)) is None:
            return False
        items.append(item)
    later = [raw.get(name) for name, _ in LATER]
    present = next((i for i, v in enumerate(later) if v is None), len(later))
    if any(v is not None for v in later[present:]):
        return False
    for (_name, kind), value in zip(LATER[:present], later[:present], strict=True):
        if (item := _item(value, kind)) is None:
            return False
        items.append(item)
    return "0x" + keccak(rlp(items)).hex() == said.lower()
