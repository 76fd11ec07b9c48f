"""review93b's leftover (fee94): a fee refused as a rise past EIP-1559's highest from the
fee floor (a devnet's ``hardhat_setNextBlockBaseFeePerGas`` jump) was named in /health's
``chainMirror.baseFee.lastUntrusted`` but not how far the node was from believing it: an
operator could not tell "mine N blocks" from "stuck". ``baseFee.walk`` now says the fee
refused, its block, the bound there and ``blocksToRead``: how many blocks past it the
mirror still has to read; once it has, the fee is believed and ``walk`` is null. The rule
is ``HeadSignal``'s alone (as tests/test_review93b_fee_floor_fall.py)."""

from __future__ import annotations

from sdex.chain.headsignal import HeadSignal

GWEI = 10**9


def test_a_jumped_fee_says_how_many_blocks_the_walk_still_needs() -> None:
    known = [100]
    heads = HeadSignal(lambda: known[0])
    assert heads.read(100, GWEI, placed=True) is None
    assert heads.to_json()["walk"] is None
    jumped = 100 * GWEI
    known[0] = 101
    assert heads.read(101, jumped, placed=True) is not None
    walk = heads.to_json()["walk"]
    assert isinstance(walk, dict), walk
    assert walk["fee"] == jumped and walk["block"] == 101
    assert GWEI < walk["bound"] < jumped  # (9/8 a block from 1 gwei at block 100)
    need = walk["blocksToRead"]
    assert isinstance(need, int) and need > 0
    for n in range(102, 101 + need):  # (each read by number: still refused, the count falls)
        known[0] = n
        assert heads.read(n, jumped, placed=True) is not None, n
        assert heads.walk is not None and heads.walk["blocksToRead"] == 101 + need - n
    known[0] = 101 + need
    assert heads.read(101 + need, jumped, placed=True) is None  # (the walk there: believed)
    assert heads.to_json()["walk"] is None
