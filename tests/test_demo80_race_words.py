"""What ``sdex demo``'s double spend says it came to (demo80's trial): one run printed
"frank's got a failed settlement" then "failed settlements across the nodes: 0 (handled)" (the
loser's node withdrew its match before sending it, which ``/health``'s ``matchesFailed`` does
not count); another "frank's got no match" under a chapter saying each node settles."""

from __future__ import annotations

import pytest

from sdex.demo import race_words


@pytest.mark.parametrize(
    ("matched", "failed", "says", "never"),
    [
        (False, 0, "frank's found nothing to match: node-3 already knew dave's order was taken",
         "failed"),
        (True, 0, "frank's matched too on node-3: it learned of the fill first and withdrew "
         "its settlement unsent (none refused)", "failed settlement"),
        (True, 1, "frank's matched too on node-3: the chain refused its settlement (1 refused "
         "across the nodes)", "withdrew"),
    ],
)  # fmt: skip
def test_the_race_is_said_as_it_went(matched: bool, failed: int, says: str, never: str) -> None:
    said = race_words("erin", "frank", "node-3", matched, failed)
    assert said.startswith("the chain settled erin's match; "), said
    assert says in said, said
    assert never not in said, said
