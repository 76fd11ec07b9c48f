"""small92 (settle89's leftover): refusals to sign whose kind alternates (a fee refused, then
the chain in doubt, then the fee again, ...) are logged once a kind while they last, not at
each change of kind, and the state's end counts each kind.

Before, ``UnsignedLog`` held the last kind alone: each change of kind was a new state, two
warnings a change, one each ``REFUSED_PAUSE`` (~5 lines a second) for as long as the chain
answered so. The refusals are the settler's own errors (``NotSigned``, ``ChainUnproven``)."""

from __future__ import annotations

import logging

import pytest

from sdex.chain.asend import ChainUnproven
from sdex.settlement.signing import NotSigned
from sdex.settlement.unsignedlog import MAX_KINDS, OTHER, UnsignedLog


def warned(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "sdex.settlement" and r.levelno >= logging.WARNING
    ]


def test_two_kinds_alternating_are_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="sdex.settlement")
    unsigned = UnsignedLog()
    for i in range(50):
        unsigned.refused(2, NotSigned(f"fees not read: ValueError: fee {i} above the ceiling"))
        unsigned.refused(2, ChainUnproven(f"no block {100 + i} where ours has one"))
    said = warned(caplog)
    # before: 199 warnings (each change of kind ended a state and began one)
    assert len(said) == 2, said
    assert "fees not read" in said[0] and "no block" in said[1], said
    assert unsigned.to_json()["inARow"] == 100, unsigned.to_json()
    assert "no block 149" in str(unsigned.to_json()["now"])
    unsigned.signed()
    (ended,) = warned(caplog)[2:]
    assert "not signed 100 times" in ended and "signing again" in ended, ended
    assert "NotSigned: fees not read: 50" in ended, ended
    assert "ChainUnproven: no block N where ours has one: 50" in ended, ended
    assert unsigned.to_json() == {"total": 100, "now": None, "inARow": 0}
    unsigned.refused(1, ChainUnproven("no block 7 where ours has one"))  # (a new state)
    assert len(warned(caplog)) == 4 and "no block 7" in warned(caplog)[3]


def test_the_kinds_a_state_counts_apart_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """Kinds are the chain's words: past ``MAX_KINDS`` a state counts the others together,
    logged once."""
    caplog.set_level(logging.WARNING, logger="sdex.settlement")
    unsigned = UnsignedLog()
    for _ in range(3):
        for k in range(MAX_KINDS * 4):
            unsigned.refused(1, NotSigned(f"nonce not read {chr(ord('a') + k % 26)}{k // 26}"))
    assert len(unsigned.counts) == MAX_KINDS + 1 and OTHER in unsigned.counts
    assert len(warned(caplog)) == MAX_KINDS + 1
    assert sum(unsigned.counts.values()) == unsigned.tries == MAX_KINDS * 12
