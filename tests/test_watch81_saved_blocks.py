"""watch81: the kept blocks saved with the mirror's head (``sdex.watch.savedblocks``) read
back as written, and a row not as this node writes it refused with every row below it (the
rows above it, down from the saved head, still used): a file is as hostile as a peer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sdex.chain import FillEvent
from sdex.mirror import Effects, Header
from sdex.mirror.blocks import Block
from sdex.watch.blocks import ZERO_HASH
from sdex.watch.savedblocks import BadBlock, block_body, load_blocks, read_block

MAKER = "0x" + "ab" * 20
TOKEN = "0x" + "cd" * 20
hashes = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
orders = st.binary(min_size=32, max_size=32)
uints = st.integers(min_value=0, max_value=2**256 - 1)


def block(number: int, parent: str, fills: int = 1) -> Block:
    h = Header(number, "0x" + f"{number:064x}", parent, 1_700_000_000 + number)
    order = bytes([number % 256]) * 32
    eff = Effects()
    eff.fills = [
        FillEvent(order, MAKER, TOKEN, 5 + i, 7, MAKER, 0, number, "0x" + "ee" * 32, i)
        for i in range(fills)
    ]
    eff.cancelled = {order}
    eff.makers = {MAKER}
    eff.funds = {(MAKER, TOKEN)}
    undo: list[tuple[str, object, object]] = [
        ("filled", order, 3),
        ("cancelled", order, False),
        ("salt", MAKER, 2**255),
    ]
    return Block(h, eff, undo)


def chain_of(n: int, top: int = 100) -> list[Block]:
    out = [block(top - n + 1, "0x" + "11" * 32)]
    for number in range(top - n + 2, top + 1):
        out.append(block(number, out[-1].header.hash))
    return out


def same(a: Block, b: Block) -> bool:
    return (a.header, a.effects, a.undo) == (b.header, b.effects, b.undo)


@given(
    number=st.integers(0, 2**62), h=hashes, parent=hashes, undo_old=uints, fills=st.integers(0, 3)
)
def test_a_block_reads_back_as_written(
    number: int, h: str, parent: str, undo_old: int, fills: int
) -> None:
    b = block(number, parent, fills)
    b = Block(Header(number, h, parent, 5, ""), b.effects, [("filled", bytes(32), undo_old)])
    assert same(read_block(number, block_body(b)), b)


def mutated(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> str:
    copy = json.loads(json.dumps(body))
    at = copy
    for k in path[:-1]:
        at = at[k]
    at[path[-1]] = value
    return json.dumps(copy)


BAD = [
    (("h", 0), 99),  # another number than its row's
    (("h", 1), "0x" + "AB" * 32),  # a hash not lower-case hex
    (("h", 2), 5),  # a parent that is no hash
    (("h", 3), -1),  # a negative time
    (("h", 4), "0x12"),  # a transactions root cut short
    (("u", 0, 0), "x"),  # an undo of no kind
    (("u", 0, 2), 2**256),  # an amount past uint256
    (("u", 1, 2), 1),  # a cancel flag that is no bool
    (("u", 2, 1), "0x12"),  # a salt's maker that is no address
    (("f", 0, 0), "zz" * 32),  # a fill's order not hex
    (("f", 0, 3), "+5"),  # an amount not in digits
    (("f", 0, 7), True),  # a log index that is no int
    (("f", 0, 8), "0x1"),  # a transaction hash cut short
    (("c",), "nope"),  # cancels not a list
    (("a", 0), [MAKER]),  # an account not [owner, token]
]


@pytest.mark.parametrize(("path", "value"), BAD)
def test_a_row_not_as_written_is_refused(path: tuple[Any, ...], value: Any) -> None:
    body = json.loads(block_body(block(100, "0x" + "11" * 32)))
    with pytest.raises(BadBlock):
        read_block(100, mutated(body, path, value))


@pytest.mark.parametrize("text", ["", "[]", "{", "null", '{"h": 1}', "[" * 10_000, "x" * 100])
def test_text_that_is_no_block_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        read_block(100, text)


def test_the_run_down_from_the_head_stops_at_a_bad_row_or_a_broken_link() -> None:
    kept = chain_of(5)
    head = kept[-1].header
    rows = [(b.header.number, block_body(b)) for b in reversed(kept)]
    assert [b.header.number for b in load_blocks(rows, head)] == [96, 97, 98, 99, 100]
    bad = [*rows[:2], (98, "{"), *rows[3:]]  # (98 unreadable: 99 and 100 kept)
    assert [b.header.number for b in load_blocks(bad, head)] == [99, 100]
    other = Header(100, "0x" + "99" * 32, "", 0)  # (not the saved head's: none)
    assert load_blocks(rows, other) == []
    gap = [*rows[:2], *rows[3:]]  # (no 98: 99 and 100)
    assert [b.header.number for b in load_blocks(gap, head)] == [99, 100]
    b98 = block(98, "0x" + "11" * 32)
    broken = Block(Header(98, "0x" + "77" * 32, "", 0), b98.effects, b98.undo)  # (not 99's parent)
    swapped = [*rows[:2], (98, block_body(broken)), *rows[3:]]
    assert [b.header.number for b in load_blocks(swapped, head)] == [99, 100]


def test_a_zero_parent_links_by_number_alone() -> None:
    """``hardhat_mine``'s blocks name a zero parent: the one below is taken by number."""
    low = block(99, "0x" + "11" * 32)
    top = block(100, ZERO_HASH)
    rows = [(100, block_body(top)), (99, block_body(low))]
    assert [b.header.number for b in load_blocks(rows, top.header)] == [99, 100]
