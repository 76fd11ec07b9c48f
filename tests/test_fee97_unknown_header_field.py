"""fee97 (left44's "Fees"): a store saved without a fee floor (an older version's) believes no
fee till its saved head's header seals with the hash saved (``sdex.watch.fork.check_head``)
or the mirror reads a block by its number (fee95). A fork's new header field unknown to
``sdex.mirror.seal`` (as ``requestsHash`` was before Prague) left every header unsealed: on an
idle automining devnet no block came, no fee was believed, nothing was signed, and nothing
said why. Now fields past the known ones are tried appended (a Keccak preimage stands between
a liar and a seal so made), and a saved head that does not seal, read again apart, is logged.

Real Hardhat, a real node in this process run to the chain's head and stopped; its store made
as a future chain's would be (the saved head's hash that of its header with one more field,
``FIELD``; no floor, no saved blocks: an older version's), and the restart behind a real
loopback proxy that answers that block as such a chain would (the field, that hash; its
child's parent hash). Nothing is mined between: the devnet idle till the node signs."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from sdex.chain.tx import RlpItem, rlp
from sdex.keccak import keccak
from sdex.mirror.seal import FIELDS, LATER, _item, sealed
from tests.conftest import Chain
from tests.nodeutil import wait_for
from tests.replacedrow import base_fee_kept
from tests.rpcfault import _proxy
from tests.startheads import ran_to_head
from tests.test_bounds84_base_fee import pair_posted, relaying

FIELD = ("blockAccessListHash", "0x" + keccak(b"fee97: a later fork's field").hex())
"""A header field no fork here names (EIP-7928's, proposed), 32 bytes."""


REQUESTS = ("requestsHash", "0x" + hashlib.sha256(b"").hexdigest())
"""Prague's field, as a block without requests has it: Hardhat's Cancun headers lack it, and
a later fork's field follows it (review97a: only then tried)."""


def with_field(block: dict[str, Any], value: str = FIELD[1]) -> dict[str, Any]:
    """``block`` as a chain whose headers end in ``FIELD`` would answer it: Prague's field
    (``REQUESTS``) and the field, and the hash of the header with them appended after the
    known ones."""
    block = {REQUESTS[0]: REQUESTS[1], **block}
    items: list[RlpItem] = []
    for name, kind in FIELDS + LATER:
        item = _item(block[name], kind)
        assert item is not None, (name, block[name])
        items.append(item)
    items.append(bytes.fromhex(value[2:]))
    return {**block, FIELD[0]: value, "hash": "0x" + keccak(rlp(items)).hex()}


def test_a_header_with_a_field_unknown_here_seals_and_a_change_of_it_does_not(
    chain: Chain,
) -> None:
    block = chain.rpc.call("eth_getBlockByNumber", "latest", False)
    assert sealed(block), block  # (Hardhat's headers seal)
    future = with_field(block)
    assert sealed(future)  # (main: not sealed, the field unknown)
    fee = int(block["baseFeePerGas"], 16)
    assert not sealed({**future, "baseFeePerGas": hex(fee + 1)})  # (the fee changed, hash kept)
    assert not sealed({**future, FIELD[0]: "0x" + "11" * 32})  # (the field changed)
    assert not sealed({**future, FIELD[0]: "not hex"})
    extra = {f"x{i}": "0x01" for i in range(4)}  # (more unknown fields than tried)
    assert not sealed({**future, **extra})


async def test_an_old_store_on_an_idle_devnet_signs_when_its_head_has_a_field_unknown_here(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = chain
    db = tmp_path / "n.db"
    with base_fee_kept(c):
        top = await ran_to_head(c, db)
        n, real, fee = int(top["number"], 16), str(top["hash"]), int(top["baseFeePerGas"], 16)
        future = with_field(top)
        with sqlite3.connect(db) as conn:  # (a future chain's head, as an older version saved)
            saved = json.loads(conn.execute("SELECT value FROM meta WHERE key='mirror_head'")
                               .fetchone()[0])  # fmt: skip
            assert saved[:2] == [n, real], saved
            head = json.dumps([n, future["hash"], saved[2]])
            conn.execute("UPDATE meta SET value=? WHERE key='mirror_head'", (head,))
            assert conn.execute("DELETE FROM meta WHERE key='mirror_floor'").rowcount == 1
            conn.execute("DELETE FROM mirror_blocks")
        conn.close()
        signed: list[int] = []
        answered = [0]
        upstream = c.deployment.rpc

        def edit(calls: list[dict[str, object]], answers: list[Any]) -> None:
            for q, r in zip(calls, answers, strict=False):
                got = r.get("result") if isinstance(r, dict) else None
                if not str(q.get("method")).startswith("eth_getBlockBy") or not isinstance(
                    got, dict
                ):
                    continue
                if got.get("hash") == real:  # (the future chain's block n)
                    r["result"] = {**got, **{k: future[k] for k in (FIELD[0], REQUESTS[0], "hash")}}
                    answered[0] += 1
                elif got.get("parentHash") == real:  # (its child: the node's settlement's)
                    got["parentHash"] = future["hash"]

        with (
            caplog.at_level(logging.WARNING, logger="sdex.watch"),
            _proxy(upstream, relaying(upstream, signed, edit)) as rpc,
        ):
            async with pair_posted(c, db, rpc) as node:
                await wait_for(lambda: bool(signed), 60)
                # (main: nothing signed, no fee believed: no block to read by number)
                assert signed and signed[0] == fee, (signed, node.mirror.announced.to_json())
        assert answered[0] >= 1  # (the head read as the future chain has it)
        assert "not Keccak-256 of its fields" not in caplog.text, caplog.text
