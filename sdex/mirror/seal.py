"""Whether a block header's fields are the ones its hash is of (``sealed``): Keccak-256 of
their RLP, in the order Ethereum's forks added them. watch89: a block announced by the
newHeads feed that holds our settlement alone is applied without a read (``sdex.watch.
blocks.own_alone``; its hash our receipt's, its ``transactionsRoot`` our transaction's), and
its stamp, the feed's word only, moved the node's chain clock: a feed that forged it a day
ahead had the node close acknowledged resting orders as expired. Such a block is taken
unread only when its header is sealed; else it is read as any other.

fee97 (left44's): a fork's new header field unknown here (as ``requestsHash`` was before
Prague) left every header of that chain unsealed: an older store's saved head never proven
(``sdex.watch.fork.check_head``), and on an idle automining devnet no fee believed, nothing
signed. Fields an answer holds past the known ones (``NOT_HEADER`` aside: the RPC's own) are
tried appended after them, each as bytes or a quantity, in each order (at most
``MAX_UNKNOWN``): a header sealed so is as proven (a liar would need a Keccak preimage of the
hash it kept). Only after all of ``LATER`` (review97a): a fork's field follows the earlier
forks' (``LATER``'s rule), and a known field passed off as unknown is not read by its name."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

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
NOT_HEADER = frozenset(
    {"hash", "size", "totalDifficulty", "transactions", "uncles", "withdrawals", "author",
     "sealFields", "step", "signature", "l1BlockNumber", "sendCount", "sendRoot"}
)  # fmt: skip
"""Keys of a block as RPCs answer it that are not fields of its header (the RPC's own, and
clients' additions: Nethermind's/OpenEthereum's, Arbitrum's): never tried as unknown fields."""
MAX_UNKNOWN = 3
"""Unknown fields at most tried appended (``sealed``: 3! orders, 2**3 kinds; more: not sealed)."""
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
    the RLP of its fields; any field missing or odd (another fork's, a feed's forgery): no.
    Fields past the known ones (a later fork's: fee97) are tried appended (``_unknown``),
    only after every known one (review97a: after a prefix of ``LATER``, the rest of a header
    given as "unknown" fields sealed, ``baseFeePerGas`` among them on a London or Shanghai
    header: a sealed header whose fee the node read as none, no refusal said)."""
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
    said = said.lower()
    if "0x" + keccak(rlp(items)).hex() == said:
        return True
    if present < len(LATER):  # (a later fork's field follows every known one: review97a)
        return False
    return any("0x" + keccak(rlp(items + tail)).hex() == said for tail in _unknown(raw))


def _unknown(raw: dict[str, object]) -> Iterator[list[RlpItem]]:
    """(fee97) The RLP items the fields of ``raw`` no fork here names may be (``NOT_HEADER``
    aside): each hex value as bytes, or as a quantity, in each of their orders; none when
    one is not hex or there are more than ``MAX_UNKNOWN``."""
    known = {name for name, _ in FIELDS + LATER} | NOT_HEADER
    extra = [v for k, v in raw.items() if k not in known]
    if not extra or len(extra) > MAX_UNKNOWN:
        return
    kinds: list[list[RlpItem]] = []
    for value in extra:
        ways = [it for kind in ("b", "q") if (it := _item(value, kind)) is not None]
        if not ways:
            return
        kinds.append(ways)
    for order in itertools.permutations(range(len(extra))):
        yield from (list(tail) for tail in itertools.product(*(kinds[i] for i in order)))
