"""fixa: review89 made the settler's fee read while the node catches up (a start, a reset's
replay) signed with only under EIP-1559's highest ``FEE_STEPS`` past the head known from the
last read; after a reset there was none (``HeadSignal.rewound`` clears it, ``unbound``), so
every read was refused "catching up" and a match made while the reset replayed went back
unsent (the wallet's IOC gone: tests/test_review74a_reset_nonce.py). The old chain's last
bound (``reset_from``) now bounds what is signed with till the new chain is read for the
mirror: never kept, never judged, a lie above it still refused."""

from __future__ import annotations

from sdex.chain.headsignal import FEE_STEPS, HeadSignal, highest

BASE = 8_216
"""The old chain's fee at block 88 (review74a's run: Hardhat's fee after its empty blocks)."""


def reset_at_88() -> tuple[HeadSignal, list[int | None]]:
    """A node that read block 88 for the mirror, then took a reset (its replay not begun)."""
    head: list[int | None] = [88]
    heads = HeadSignal(lambda: head[0])
    assert heads.read(88, BASE, placed=True) is None
    heads.rewound(reset=True)
    head[0] = None  # (``Mirror.clear``)
    return heads, head


def test_the_settlers_read_during_a_reset_replay_is_signed_under_the_old_chains_bound() -> None:
    heads, _ = reset_at_88()
    assert heads.syncing and heads.unbound and heads.read_fee is None
    assert heads.read(90, 6_287, signs=True) is None  # (the new chain's fee, lower: signed)
    top = highest((88, BASE), 88 + FEE_STEPS)
    assert heads.read(90, top, signs=True) is None
    # Never kept, nor judged: the watcher's read is still not believed, nothing counted.
    assert heads.read_fee is None and heads.unbound and heads.syncing
    assert heads.read(90, 6_287) is not None and heads.untrusted == 0


def test_a_lie_during_a_reset_replay_is_still_refused() -> None:
    heads, _ = reset_at_88()
    for number in (90, 2_088, 10**6):  # (a block far ahead at the ceiling: review89's lie)
        why = heads.read(number, heads.ceiling, signs=True)
        assert why is not None and "not signed with till it caught up" in why
    assert heads.read(90, highest((88, BASE), 88 + FEE_STEPS) + 1, signs=True) is not None
    assert heads.read_fee is None and heads.unbound and heads.untrusted == 0


def test_the_new_chains_mirror_read_ends_the_old_bound() -> None:
    heads, head = reset_at_88()
    assert heads.read(89, 7_000, placed=True) is None  # (the replay, as far)
    head[0] = 89
    assert not heads.unbound and heads.read_fee == (89, 7_000)
    assert heads.read(90, 6_287, signs=True) is None  # (in reach: the catch-up over)
    assert not heads.syncing and heads.read_fee == (90, 6_287)  # (judged, kept)


def test_no_bound_kept_before_a_reset_still_refuses() -> None:
    heads = HeadSignal(lambda: None)
    heads.rewound(reset=True)
    why = heads.read(90, 6_287, signs=True)
    assert why is not None and "catching up" in why
