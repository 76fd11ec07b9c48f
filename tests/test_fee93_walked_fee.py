"""fee93 (review92's left): a fee is believed only within EIP-1559's highest (9/8 a block) from
a floor that moves with the blocks the node's mirror reads by number, each from its parent's
(``sdex.watch.ranges``), from a proven anchor: the floor saved with the mirror's head
(``Store.save_mirror``, ``sdex.watch.saved``), a restart's first bound, never read again from
the endpoint (``HeadSignal.resume``).

Before: a range's last header alone was read, its fee bounded by EIP-1559's reach of the last
floor over every block of the range; the start's head, proven by a sealed header read by its
number (fee92), let a fee that rose while the node was down be signed with. A header forged
for the chain's head at the ceiling's fee, its hash recomputed (Keccak is cheap: a sealed
header of that number, its parent the chain's), was believed ~120 blocks past the saved head
and signed with, on a chain at a few wei.

Real Hardhat, a real node in this process run to the chain's head, stopped, and started again
on its SQLite store (behind a real loopback proxy, ``tests.rpcfault._proxy``)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.tx import MAX_BASE_FEE, RlpItem, rlp
from sdex.keccak import keccak
from sdex.mirror.seal import FIELDS, LATER, _item, sealed
from sdex.watch.saved import Unreadable, _floor
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.replacedrow import base_fee_kept, fee_walked_to
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import pair_posted, signing_recorded

WALKED = 120
"""Blocks mined while the node is down (empty: the fee falls), fewer than the reorg depth (the
range reads each one's header): EIP-1559's highest over them from 1 gwei is past the ceiling."""


def forged(raw: dict[str, Any], **fields: str) -> dict[str, Any]:
    """``raw`` (a header as the RPC gives it) with ``fields`` rewritten and its hash computed
    anew: a sealed header (``sdex.mirror.seal.sealed``) of the chain's parent."""
    out = {**raw, **fields}
    items: list[RlpItem] = []
    for name, kind in (*FIELDS, *LATER):
        if out.get(name) is None:
            break
        item = _item(out[name], kind)
        assert item is not None, name
        items.append(item)
    out["hash"] = "0x" + keccak(rlp(items)).hex()
    assert sealed(out), out
    return out


async def test_a_forged_sealed_head_at_a_start_is_not_signed_with(
    chain: Chain, tmp_path: Path
) -> None:
    """The node down ``WALKED`` blocks; at its start every answer of the chain's head (latest,
    and by its number) is a sealed header forged at the ceiling's fee (its parent the chain's):
    nothing signed with it (main: the pair signed at 100,000 gwei, the forged fee the bound)."""
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        await fee_walked_to(c, 10**9)  # (the node's reads believe each block's rise: fee93)
        await ran_to_head(c, db)
        c.rpc.call("hardhat_mine", hex(WALKED))
        tip = c.rpc.call("eth_getBlockByNumber", "latest", False)
        assert isinstance(tip, dict) and sealed(tip), tip  # (Hardhat's headers seal)
        lie = forged(tip, baseFeePerGas=hex(MAX_BASE_FEE))
        signed: list[int] = []
        lies = [0]

        def lie_at_tip(q: dict[str, Any], r: dict[str, Any]) -> None:
            got = r.get("result")
            by = q.get("method") == "eth_getBlockByNumber" and isinstance(got, dict)
            if by and isinstance(got, dict) and got.get("hash") == tip["hash"]:
                r["result"] = dict(lie)  # (latest, or by its number: the same forgery)
                lies[0] += 1

        with signing_recorded(c.deployment.rpc, signed, lie_at_tip) as rpc:
            async with pair_posted(c, db, rpc) as node:
                await wait_for(lambda: lies[0] >= 12 or bool(signed), 60)
                assert not signed or max(signed) < 10**12, signed
                heads = node.mirror.announced
                assert heads.read_fee is None or heads.read_fee[1] < 10**12, heads.to_json()
                assert heads.untrusted >= 1, heads.to_json()


async def test_a_restart_bounds_by_the_floor_saved_with_its_head(
    chain: Chain, tmp_path: Path
) -> None:
    """The floor judged at the mirror's head is saved with it; a restart's first bound is that
    floor (here set apart in the file: a fee the chain never had), not the saved head's fee
    read again from the endpoint (main: the saved head's block read by number, its fee kept)."""
    c = chain
    db = tmp_path / "n.db"
    top = await ran_to_head(c, db)
    number = int(top["number"], 16)
    fee = int(top["baseFeePerGas"], 16)
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key='mirror_floor'").fetchone()
        assert row is not None and json.loads(row[0]) == [number, fee], (row, number, fee)
        conn.execute(
            "UPDATE meta SET value=? WHERE key='mirror_floor'", (json.dumps([number, fee + 1]),)
        )
    conn.close()
    async with running_node(node_config(c, db)) as (node, _):
        heads = node.mirror.announced
        assert heads.resumed and heads._kept.get(number) == fee + 1, heads._kept


@pytest.mark.parametrize(
    ("saved", "why"),
    [
        ([5, 10**9, 1], "is not"),
        ([11, 10**9], "past the saved head"),
        ([5, -1], "uint256"),
        ("[5, 1]", "is not"),
        ([True, 1], "uint256"),
    ],
)
def test_a_saved_floor_not_as_written_makes_the_mirror_unreadable(saved: object, why: str) -> None:
    """(``sdex.watch.saved``) A floor not ``[number, fee]``, uint256s, at or below the head."""
    assert _floor(None, 10) is None and _floor([10, 7], 10) == (10, 7)
    with pytest.raises(Unreadable, match=why):
        _floor(saved, 10)
