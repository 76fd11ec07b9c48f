"""review97a (fee97's review): ``sdex.mirror.seal.sealed`` tried fields unknown to it appended
after any prefix of ``LATER``: a header's own later fields, given under other names, sealed
it. On a London or Shanghai header that hid ``baseFeePerGas``: sealed, its fee read as none
(``Header.from_rpc``), so ``check_head`` believed a proven head with no fee, and said nothing.
A later fork's field follows every field known here (``LATER``'s rule): tried only then.

Real Hardhat's latest block; the London header made of its fields (as a London chain would
answer it: its hash Keccak of their RLP)."""

from __future__ import annotations

from typing import Any

from sdex.chain.tx import RlpItem, rlp
from sdex.keccak import keccak
from sdex.mirror.blocks import Header
from sdex.mirror.seal import FIELDS, LATER, _item, sealed
from tests.conftest import Chain


def header_of(block: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """``block``'s fields ``names`` (FIELDS, then a prefix of LATER), hashed as a chain
    whose headers hold just those would hash it."""
    items: list[RlpItem] = []
    for name, kind in FIELDS + LATER:
        if name in names:
            item = _item(block[name], kind)
            assert item is not None, (name, block[name])
            items.append(item)
    kept = {k: v for k, v in block.items() if k not in dict(FIELDS + LATER) or k in names}
    return {**kept, "hash": "0x" + keccak(rlp(items)).hex()}


def renamed(header: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """``header`` with the fields ``names`` under names no fork here has."""
    out = {k: v for k, v in header.items() if k not in names}
    return out | {f"x{i}": header[n] for i, n in enumerate(names)}


def test_a_headers_known_fields_given_as_unknown_do_not_seal(chain: Chain) -> None:
    block = chain.rpc.call("eth_getBlockByNumber", "latest", False)
    assert sealed(block), block  # (Hardhat's Cancun header: five of LATER)
    tail = [n for n, _ in LATER if n in block][2:]
    assert len(tail) == 3, block
    # (its blob fields and beacon root as unknown ones: a header of no fork; main: sealed)
    assert not sealed(renamed(block, tail))
    london = header_of(block, [n for n, _ in FIELDS] + ["baseFeePerGas"])
    assert sealed(london) and Header.from_rpc(london).base_fee == int(block["baseFeePerGas"], 16)
    hidden = renamed(london, ["baseFeePerGas"])
    assert Header.from_rpc(hidden).base_fee is None
    assert not sealed(hidden)  # (main: sealed, its fee none)
