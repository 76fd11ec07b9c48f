"""The bounded JSON reader: size and depth are decided before parsing, never by a crash."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex import jsonio
from sdex.errors import JsonLimitError


def _depth(obj: Any) -> int:
    if isinstance(obj, dict):
        return 1 + max((_depth(v) for v in obj.values()), default=0)
    if isinstance(obj, list):
        return 1 + max((_depth(v) for v in obj), default=0)
    return 0


_leaves = st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:é', max_size=6)
_docs = st.recursive(
    _leaves,
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(doc=_docs, limit=st.integers(min_value=0, max_value=12))
def test_depth_check_agrees_with_the_parsed_depth(doc: Any, limit: int) -> None:
    text = json.dumps(doc, ensure_ascii=False)
    too_deep = _depth(doc) > limit
    assert jsonio.depth_exceeds(text, limit) is too_deep
    if too_deep:
        with pytest.raises(JsonLimitError, match="nested deeper"):
            jsonio.loads(text, max_bytes=10**6, max_depth=limit, floats=True)
    else:
        assert jsonio.loads(text, max_bytes=10**6, max_depth=limit, floats=True) == doc


@pytest.mark.parametrize("depth", [10**3, 10**4, 10**5, 10**6])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_deep_nesting_is_refused_not_crashed(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    text = '{"orders":' + opener * depth + "1" + closer * depth + "}"
    with pytest.raises(JsonLimitError, match="nested deeper"):
        jsonio.loads(text.encode(), max_bytes=64 * 1024 * 1024, max_depth=8)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"x" * 101, "more than 100 bytes"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"a": 1.5}', "is a float"),
        (b'{"a": NaN}', "not a number"),
        (b"[1,2]]", "Extra data"),
        (b"[[[[[[[[[[1]]]]]]]]]]]", "unbalanced"),
        (b'{"a": 1', "Expecting"),
    ],
)
def test_bad_documents_get_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(JsonLimitError, match=reason):
        jsonio.loads(raw, max_bytes=100, max_depth=8)


def test_brackets_inside_strings_do_not_nest() -> None:
    text = json.dumps({"a": "[[[[[[[[[[[[{{{{{{{{", "b": ['\\"]]]]']})
    assert jsonio.loads(text, max_bytes=1000, max_depth=2) == json.loads(text)


@pytest.mark.parametrize("n", [10, jsonio.PARSE_FIRST // 2, jsonio.PARSE_FIRST * 2])
def test_both_depth_paths_agree_on_wide_documents(n: int) -> None:
    """Few brackets: parsed first, depth read off the value; many: the regex passes first.
    Either way the same answer and the same reasons."""
    text = json.dumps({"orders": [{"a": [1, "]]"]} for _ in range(n)]})
    assert jsonio.loads(text, max_bytes=10**7, max_depth=4) == json.loads(text)
    with pytest.raises(JsonLimitError, match="nested deeper than 3"):
        jsonio.loads(text, max_bytes=10**7, max_depth=3)
    with pytest.raises(JsonLimitError, match="nested deeper than 3"):  # depth before syntax
        jsonio.loads(text + "]", max_bytes=10**7, max_depth=3)
    with pytest.raises(JsonLimitError, match="Extra data"):
        jsonio.loads(text + " x", max_bytes=10**7, max_depth=4)
    with pytest.raises(JsonLimitError, match="is a float"):
        jsonio.loads(text.replace("[1,", "[1.5,", 1), max_bytes=10**7, max_depth=4)


@settings(max_examples=300, deadline=None)
@given(
    parts=st.lists(st.sampled_from(["[", "{", "]", "}", "a", " " * 40, "x" * 300]), max_size=60),
    limit=st.integers(min_value=0, max_value=40),
)
def test_openers_are_counted_exactly_up_to_the_limit(parts: list[str], limit: int) -> None:
    """``_openers``: found one at a time in sparse text, counted in dense text; either way
    the exact count up to ``limit``, and more than ``limit`` past it."""
    text = "".join(parts)
    count = text.count("[") + text.count("{")
    got = jsonio._openers(text, limit)
    assert got == count if count <= limit else got > limit


@pytest.mark.parametrize(
    ("doc", "depth"),
    [
        ({"a": [[[1]]], "b": "[[[[{{{{"}, 4),  # (brackets in strings: more counted, not deeper)
        ([[], [], [[]]], 3),
        ({"orders": [{"a": "1"}] * 64}, 3),  # (the walk stops above the orders' fields)
        ({"x": [{"t": ["a"]}] * 5, "y": [[[[[[1]]]]]]}, 7),
    ],
)
def test_the_walk_reads_the_exact_depth(doc: Any, depth: int) -> None:
    """Parsed first (more brackets than the bound, fewer than ``PARSE_FIRST``), the walk may
    stop early only where too few brackets are left to go deeper: exact either way."""
    text = json.dumps(doc)
    assert _depth(doc) == depth
    assert jsonio.loads(text, max_bytes=10**6, max_depth=depth) == doc
    with pytest.raises(JsonLimitError, match=f"nested deeper than {depth - 1}"):
        jsonio.loads(text, max_bytes=10**6, max_depth=depth - 1)


_answers = st.recursive(
    _leaves | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda kids: (
        st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(doc=_answers)
def test_dumps_bytes_is_json_dumps_encoded(doc: Any) -> None:
    assert jsonio.dumps_bytes(doc) == json.dumps(doc).encode()


def test_dumps_bytes_refuses_what_json_dumps_refuses() -> None:
    for bad in ({"a": b"bytes"}, [{1, 2}], {"x": object()}):
        with pytest.raises(TypeError, match="not JSON serializable"):
            jsonio.dumps_bytes(bad)
    assert jsonio.dumps_bytes({"a": 1}) == b'{"a": 1}'  # (the encoder is still usable)


def _chain_of(depth: int) -> Any:
    """A value ``depth`` deep, lists and objects in turn, brackets in its keys and strings."""
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k[": value, "s": "[[{{"}
    return value


def _outcome(text: str, limit: int) -> object:
    """What ``loads`` must do with ``text``: the value ``json.loads`` reads if it nests at most
    ``limit`` deep; else (too deep, or not JSON) raise ``JsonLimitError``."""
    try:
        value = json.loads(text)
    except ValueError:
        return JsonLimitError
    return value if _depth(value) <= limit else JsonLimitError


_SOUP = st.sampled_from(
    ["[", "]", "{", "}", '"', "\\", '\\"', '"[', ']"', ",", ":", "1", '"a":', " ", "\\u005b",
     "é", "\U0001f600", "\ud800", "[]", "{}", '"x"', "null", "[1]"]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(tokens=st.lists(_SOUP, max_size=60), repeat=st.integers(1, 40), limit=st.integers(0, 10))
def test_any_text_is_read_within_the_bound_or_refused(
    tokens: list[str], repeat: int, limit: int
) -> None:
    """review65: brackets, quotes and escapes in any order (in and out of strings, unbalanced,
    a lone surrogate), repeated: ``loads`` gives what ``json.loads`` does when that nests
    within the bound, else ``JsonLimitError``; never a deeper value, never another error.
    (The plain parse of the reference is safe here: at most 2,400 brackets.)"""
    for text in ("".join(tokens), "".join(tokens) * repeat):
        want = _outcome(text, limit)
        if want is JsonLimitError:
            with pytest.raises(JsonLimitError):
                jsonio.loads(text, max_bytes=10**6, max_depth=limit)
        else:
            assert jsonio.loads(text, max_bytes=10**6, max_depth=limit) == want


@pytest.mark.parametrize(
    "brackets", [jsonio.PARSE_FIRST - 1, jsonio.PARSE_FIRST, jsonio.PARSE_FIRST + 1]
)
@pytest.mark.parametrize("limit", [2, 8, 32])
@pytest.mark.parametrize("off", [-1, 0, 1])
def test_depth_at_the_bound_either_side_of_parse_first(brackets: int, limit: int, off: int) -> None:
    """review65: a value ``limit + off`` deep whose text holds ``brackets`` opening brackets
    (those of a string count: parsed first up to ``PARSE_FIRST``, the regex passes above):
    exactly the bound either way. With a duplicate key whose first value nests deeper than
    the one kept, either a value within the bound or a refusal (never a deeper value)."""
    base = {"deep": _chain_of(limit + off - 1), "pad": ""}
    pad = brackets - jsonio._openers(json.dumps(base), 10**9)
    doc = {**base, "pad": "[" * pad}
    text = json.dumps(doc)
    assert text.count("[") + text.count("{") == brackets and _depth(doc) == limit + off
    if off > 0:
        with pytest.raises(JsonLimitError, match="nested deeper"):
            jsonio.loads(text, max_bytes=10**6, max_depth=limit)
    else:
        assert jsonio.loads(text, max_bytes=10**6, max_depth=limit) == doc
    hidden = '{"deep": ' + json.dumps(_chain_of(limit + 3)) + ", " + text[1:]
    try:
        got = jsonio.loads(hidden, max_bytes=10**6, max_depth=limit)
    except JsonLimitError:
        return
    assert got == json.loads(hidden) and _depth(got) <= limit
