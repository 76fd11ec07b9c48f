"""review29: ``order_text`` is ``json.dumps``'s text for every dict, the node's own order
form or anything else (escapes, unicode, huge ints, other keys or key orders)."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex.ordertext import KEYS, order_text

_VALUES = st.one_of(
    st.text(alphabet="0123456789abcdefxABCDEF", max_size=70),
    st.text(max_size=20),  # any unicode: escapes, surrogates, quotes, backslashes
    st.integers(min_value=-(2**300), max_value=2**300),
    st.none(),
    st.booleans(),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_VALUES, min_size=len(KEYS), max_size=len(KEYS)))
def test_an_order_shaped_dict_is_encoded_as_json_dumps(values: list[object]) -> None:
    obj = dict(zip(KEYS, values, strict=True))
    assert order_text(obj) == json.dumps(obj)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.permutations(KEYS), st.text(alphabet="0123456789abcdef", min_size=1, max_size=8))
def test_keys_in_another_order_are_encoded_as_json_dumps(keys: list[str], value: str) -> None:
    obj = {k: value for k in keys}
    assert order_text(obj) == json.dumps(obj)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(max_size=12), st.text(max_size=12), max_size=12))
def test_any_dict_of_text_is_encoded_as_json_dumps(obj: dict[str, str]) -> None:
    assert order_text(obj) == json.dumps(obj)
