"""``sdex.jsonio.encoder``: the C encoder built once gives ``json.dumps``'s text."""

from __future__ import annotations

import json

import pytest

from sdex.gossip.payload import dumps
from sdex.jsonio import encoder
from sdex.model import OrderStatus
from sdex.node.events import encode_json

VALUES: list[object] = [
    {},
    [],
    "plain",
    'quote " backslash \\ newline \n tab \t nul \x00 é ☃ 😀',
    0,
    -(2**80),
    1.5,
    float("inf"),
    float("-inf"),
    True,
    None,
    {"status": OrderStatus.OPEN, "createdAt": 1764646464.123456, "n": [1, 2.0, None, False]},
    {"nested": {"a": [{"b": "c"}, []], "é": "☃"}, 1: "int key", 2.5: "float key", None: 0},
    [{"orders": [{"signature": "0x" + "ab" * 65, "makerAmount": "10"}], "also": ["deadbeef"]}],
]


@pytest.mark.parametrize("value", VALUES)
def test_the_text_is_json_dumps_text(value: object) -> None:
    assert encoder()(value) == json.dumps(value)
    assert encode_json(value) == json.dumps(value)  # type: ignore[arg-type]
    assert encoder(",", ":")(value) == json.dumps(value, separators=(",", ":"))
    assert dumps(value) == json.dumps(value, separators=(",", ":")).encode()


def test_nan_is_encoded_as_json_dumps_does() -> None:
    assert encoder()({"x": float("nan")}) == json.dumps({"x": float("nan")})


@pytest.mark.parametrize("value", [{"a": object()}, {(1, 2): 3}, [b"bytes"], {1j}])
def test_what_json_dumps_refuses_is_refused(value: object) -> None:
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        encoder()(value)


def test_an_encoder_is_reusable_after_a_refusal() -> None:
    enc = encoder()
    with pytest.raises(TypeError):
        enc({"a": object()})
    assert enc({"a": [1]}) == '{"a": [1]}'
