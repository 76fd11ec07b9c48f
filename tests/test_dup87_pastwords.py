"""``sdex.node.pastwords``: the chain words read past the mirror's head that an order's close
(``NodeReadPast``) and an account's funds (``NodeStatus``) share (dup87 folded the two)."""

from __future__ import annotations

import pytest

from sdex.node.pastwords import let_go_passed, undone_let_go, waits_for_mirror


@pytest.mark.parametrize(
    ("at", "head", "waits", "kept"),
    [
        (5, None, True, True),  # (no head yet: the mirror has nothing newer)
        (5, 4, True, True),  # (the head below the read: the mirror's word is older)
        (5, 5, False, False),  # (the head there: let go)
        (5, 9, False, False),
    ],
)
def test_a_word_waits_till_the_mirrors_head_is_at_its_block(
    at: int, head: int | None, waits: bool, kept: bool
) -> None:
    past = {b"k": at}
    assert waits_for_mirror(past, b"k", head) is waits
    assert (b"k" in past) is kept
    assert not waits_for_mirror(past, b"other", head)
    assert not waits_for_mirror(None, b"k", head)


@pytest.mark.parametrize(
    ("kept", "head", "left"),
    [
        (4, 5, {"a": 3, "b": 5, "c": 7}),  # (fewer than ``kept``: all stay)
        (3, None, {"a": 3, "b": 5, "c": 7}),  # (no head: none passed)
        (3, 5, {"c": 7}),  # (at ``kept``: those the head reached let go)
        (2, 2, {"a": 3, "b": 5, "c": 7}),
    ],
)
def test_at_the_bound_the_words_the_mirror_passed_let_go(
    kept: int, head: int | None, left: dict[str, int]
) -> None:
    past = {"a": 3, "b": 5, "c": 7}
    let_go_passed(past, head, kept)
    assert past == left


@pytest.mark.parametrize(
    ("low", "left"),
    [
        (-1, {}),  # (a reset: every word of the old chain let go)
        (4, {"a": 3}),  # (a reorg from block 4: the words of blocks above it undone)
        (5, {"a": 3, "b": 5}),  # (the fork's own block stands)
        (9, {"a": 3, "b": 5, "c": 7}),
    ],
)
def test_the_words_of_undone_blocks_are_let_go(low: int, left: dict[str, int]) -> None:
    """dup89: ``NodeChainState``'s trim of both kinds after a reset or a reorg."""
    assert undone_let_go({"a": 3, "b": 5, "c": 7}, low) == left
    assert undone_let_go(None, low) is None
    empty: dict[str, int] = {}
    assert undone_let_go(empty, low) is empty
