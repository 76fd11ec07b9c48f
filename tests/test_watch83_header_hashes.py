"""watch83 (review82b): a block header the chain answers with a hash that is not 32 bytes of
hex is refused where it is read (``Header.from_rpc``: ``ValueError``, "not a block", naming
the field).

``Header.from_rpc`` took ``hash`` and ``parentHash`` as any value (``str(h).lower()``: a
null became "none"), a block number or timestamp as anything ``int(x, 16)`` takes (" 0x1 ",
"0x_1", "-0x1", past 2^256), and a ``transactionsRoot`` of 66 characters whatever they were.
The mirror kept such a header and the watcher saved it with its head (a ``mirror_blocks``
row: ``sdex.watch.savedblocks``), which the next start could not read back (``BadBlock``: the
kept blocks ended there, a reorg below them a reset). Now every header the node takes is
one whose saved row reads back as it was: the table of bad answers, and a property over
headers as an RPC may answer them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.mirror import Effects, Header
from sdex.mirror.blocks import Block
from sdex.watch.savedblocks import block_body, read_block

GOOD = "0x" + "ab" * 32
PARENT = "0x" + "cd" * 32


def answer(**fields: Any) -> dict[str, Any]:
    """A header as an RPC answers it, ``fields`` replacing (None: left out)."""
    raw: dict[str, Any] = {
        "number": "0x10", "hash": GOOD, "parentHash": PARENT, "timestamp": "0x5f5e100",
        "transactionsRoot": "0x" + "ef" * 32, "baseFeePerGas": "0x7",
    }  # fmt: skip
    raw.update(fields)
    return {k: v for k, v in raw.items() if v is not None}


BAD = [
    ("hash", None, "no hash"),
    ("hash", 7, "a number"),
    ("hash", "0x" + "ab" * 31, "31 bytes"),
    ("hash", "0x" + "ab" * 33, "33 bytes"),
    ("hash", "0x" + "ab" * 31 + "a", "63 digits"),
    ("hash", "ab" * 32 + "00", "no 0x"),
    ("hash", "0X" + "ab" * 32, "0X"),
    ("hash", "0x" + "gg" * 32, "not hex"),
    ("hash", "0x" + "ab" * 31 + "a\n", "a newline"),
    ("hash", " 0x" + "ab" * 31 + "a", "a space"),
    ("hash", "0x" + "\u0663" * 64, "Arabic-Indic digits"),
    ("hash", "0x" + "\uff10" * 64, "fullwidth digits"),
    ("hash", ["0x" + "ab" * 32], "a list"),
    ("parentHash", None, "no parent"),
    ("parentHash", "0x", "an empty parent"),
    ("parentHash", "0x" + "zz" * 32, "a parent not hex"),
    ("number", "-0x1", "a negative number"),
    ("number", " 0x1", "a number with a space"),
    ("number", "0x_1", "a number with an underscore"),
    ("number", "0x" + "f" * 17, "a number past 64 bits"),
    ("number", 16, "a number not a quantity"),
    ("timestamp", "-0x1", "a negative timestamp"),
    ("timestamp", "0x" + "f" * 65, "a timestamp past 256 bits"),
    ("timestamp", "0x8000000000000000", "a timestamp of 2^63"),
    ("number", "0x8000000000000000", "a number of 2^63"),
]


@pytest.mark.parametrize(("field", "value", "case"), BAD, ids=[c for _, _, c in BAD])
def test_a_header_with_a_bad_field_is_refused(field: str, value: object, case: str) -> None:
    raw = answer()
    if value is None:
        del raw[field]
    else:
        raw[field] = value
    with pytest.raises(ValueError, match="not a block") as e:
        Header.from_rpc(raw)
    assert field in str(e.value) or "hash" in str(e.value), (case, str(e.value))
    assert len(str(e.value)) < 200  # (one line, the odd value cut)


@pytest.mark.parametrize(
    "root", ["0x" + "gg" * 32, "0x" + "\u0663" * 64, "1x" + "ab" * 32, 5], ids=str
)
def test_an_odd_transactions_root_is_none(root: object) -> None:
    """A ``transactionsRoot`` is optional (a header without one has ""): an odd one is none."""
    assert Header.from_rpc(answer(transactionsRoot=root)).tx_root == ""


def test_a_good_header_is_taken_lowercased() -> None:
    h = Header.from_rpc(answer(hash="0x" + "AB" * 32, parentHash="0x" + "Cd" * 32))
    assert (h.number, h.hash, h.parent, h.timestamp) == (16, GOOD, PARENT, 100_000_000)
    assert h.base_fee == 7


def saved_again(h: Header) -> Header:
    """``h`` through its ``mirror_blocks`` row and back (a restart's read)."""
    return read_block(h.number, block_body(Block(h, Effects(), []))).header


anything = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=70),
    st.text(alphabet="0123456789abcdefABCDEFxX \u0663_-", max_size=70),
    st.builds(lambda n: "0x" + "ab" * n, st.integers(0, 34)),
    st.sampled_from([GOOD, PARENT, "0x" + "0" * 64, "0x0", "0x1", "-0x1", "0x" + "f" * 20]),
)


@settings(max_examples=400, deadline=None)
@given(number=anything, block_hash=anything, parent=anything, ts=anything, root=anything)
def test_every_header_taken_reads_back_as_saved(
    number: object, block_hash: object, parent: object, ts: object, root: object
) -> None:
    raw = {"number": number, "hash": block_hash, "parentHash": parent, "timestamp": ts,
           "transactionsRoot": root}  # fmt: skip
    try:
        h = Header.from_rpc(raw)
    except ValueError:
        return  # (refused: nothing kept, nothing saved)
    assert saved_again(h) == h
