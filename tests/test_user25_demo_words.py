"""What ``sdex demo`` says about each posted order (user25's trial): bob's sell 5 @ 10,
matched in full against alice's buy, read "partially_filled, matched 0x713f0280…" (the
node's status while the settlement is in flight), as if only part of it had traded."""

from __future__ import annotations

import pytest

from sdex.client import PostedOrder
from sdex.demo import posted_words

H = "0x" + "ab" * 32
R = "0x" + "cd" * 32


def _posted(status: str, outcome: str, matches: int) -> PostedOrder:
    match = {"restingOrderHash": R, "incomingOrderHash": H, "restingMakerAmount": "1",
             "incomingMakerAmount": "1"}  # fmt: skip
    body = {"orderHash": H, "status": status, "outcome": outcome, "metaData": {},
            "matches": [match] * matches}  # fmt: skip
    return PostedOrder.from_json(201, body)


@pytest.mark.parametrize(
    ("status", "outcome", "matches", "said"),
    [
        ("open", "rested", 0, "open, rests in the book"),
        ("partially_filled", "filled", 1, "matched 0xcdcdcdcd…, settlement pending on chain"),
        ("partially_filled", "rested", 1,
         "matched 0xcdcdcdcd…, settlement pending on chain; the rest rests in the book"),
        ("partially_filled", "filled", 2,
         "matched 0xcdcdcdcd…, matched 0xcdcdcdcd…, settlement pending on chain"),
    ],
)  # fmt: skip
def test_a_posted_order_is_said_as_what_matching_did(
    status: str, outcome: str, matches: int, said: str
) -> None:
    assert posted_words(_posted(status, outcome, matches)) == said
