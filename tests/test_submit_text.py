"""A wallet order's 201 is formatted as text (``NodeViews._submit_text``, http17), not
encoded from its dict: the bytes must be exactly what ``sdex.jsonio.dumps_bytes`` of the
dict gives (the answer a wallet saw before), for any values of that shape and for the
answers a real node gives (resting, matched in part, matched in full, killed)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sdex.jsonio import dumps_bytes
from sdex.model import OrderStatus
from sdex.node.views import NodeViews
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_node import ALICE, BOB, E6, E18, ask, bid

HEX = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
AMOUNT = st.integers(min_value=0, max_value=2**256 - 1).map(str)
TEXT = st.text(max_size=40)  # (quotes, backslashes, control and non-ASCII characters)

MATCH_KEYS = (
    "restingOrderHash",
    "incomingOrderHash",
    "restingMakerAmount",
    "incomingMakerAmount",
    "price",
)
MATCH = st.fixed_dictionaries(
    {
        "restingOrderHash": HEX,
        "incomingOrderHash": HEX,
        "restingMakerAmount": AMOUNT,
        "incomingMakerAmount": AMOUNT,
        "price": st.tuples(st.integers(1, 2**200), st.integers(1, 2**200)).map(
            lambda t: f"{t[0]}/{t[1]}"
        ),
    }
).map(lambda d: {k: d[k] for k in MATCH_KEYS})  # (in ``_match_json``'s order)


@st.composite
def answers(draw: st.DrawFn) -> dict[str, object]:
    h, status = draw(HEX), draw(st.sampled_from(list(OrderStatus)))
    meta = {
        "orderHash": h,
        "status": status,
        "filledMakerAmount": draw(AMOUNT),
        "pendingMakerAmount": draw(AMOUNT),
        "remainingFillableMakerAmount": draw(AMOUNT),
        "remainingMakerAmount": draw(AMOUNT),
        "createdAt": draw(st.floats(allow_nan=False, allow_infinity=False)),
        "source": draw(st.one_of(st.just("api"), TEXT)),
        "reason": draw(st.one_of(st.just(""), TEXT)),
    }
    return {
        "orderHash": h,
        "status": status,
        "metaData": meta,
        "outcome": draw(st.sampled_from(["rested", "filled", "partially_filled", "killed"])),
        "matches": draw(st.lists(MATCH, max_size=3)),
    }


@given(answers())
def test_the_text_is_the_dicts_json_byte_for_byte(body: dict[str, object]) -> None:
    meta: Any = body["metaData"]
    assert math.isfinite(meta["createdAt"])
    assert NodeViews._submit_text(body).encode("ascii") == dumps_bytes(body)


async def test_a_real_nodes_answers_are_the_same_bytes(chain: Chain, tmp_path: Path) -> None:
    """Resting, crossing (a match) twice, and an IOC order with nothing left: each
    201's raw bytes are ``dumps_bytes`` of what they parse to (the dict's encoding)."""
    c = chain
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        posts = [
            (c.sign(ask(c, ALICE, 2 * E18, 6000 * E6)), None),  # rests
            (c.sign(bid(c, BOB, E18, 3000 * E6)), None),  # fills half of it: one match
            (c.sign(bid(c, BOB, E18, 3000 * E6, salt=2)), "ioc"),  # the other half
            (c.sign(bid(c, BOB, E18, 1000 * E6, salt=3)), "ioc"),  # nothing to trade: killed
        ]
        seen = set()
        for signed, tif in posts:
            body: dict[str, Any] = dict(signed.to_json())
            if tif:
                body["timeInForce"] = tif
            async with api.session.post(api.base + "/v1/orders", json=body) as r:
                raw = await r.read()
                assert r.status == 201, raw
            answer = json.loads(raw)
            assert raw == dumps_bytes(answer)
            seen.add((answer["outcome"], len(answer["matches"])))
        # (rested, filled with a match, an IOC with nothing left: dropped)
        assert seen == {("rested", 0), ("filled", 1), ("dropped", 0)}, seen
        assert node.records  # (the node held them)
