"""review26: the bounded JSON reader's string blanking (possessive, an unclosed string to the
end) and its one-pattern depth check (``_nested_within``), attacked: against a plain scanner
on adversarial text (escapes, a backslash at the end, unicode, brackets in strings,
unbalanced, mixed kinds) at every bound up to past ``MAX_PATTERN_DEPTH``; against the C
parser itself (a document the check passes never recurses deeper than the bound: py_ecc
raises the recursion limit to 100,000, so a deep one would crash the process); valid JSON
never refused; and 4 MiB shapes aimed at the pattern's nesting, in bounded time."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sdex import jsonio
from sdex.errors import JsonLimitError
from tests.test_review25_json import BODY, run_bounded
from tests.test_review25_json import _reference as reference

TOKENS = ["[", "]", "{", "}", '"', "\\", '\\"', "\\\\", "a", ",", ":", "1", " ", "\n", "é",
          "\U0001f600", "\x00", "[]", "{}", '"["', '"]"', "\\u005b", '{"k":', "null"]  # fmt: skip
"""Pieces of hostile text: brackets, quotes, escapes, unicode, bracket-looking strings."""


def texts(max_pieces: int = 120) -> st.SearchStrategy[str]:
    runs = st.tuples(st.sampled_from(TOKENS), st.integers(1, 40)).map(lambda t: t[0] * t[1])
    return st.lists(st.one_of(st.sampled_from(TOKENS), runs), max_size=max_pieces).map("".join)


@settings(max_examples=800, deadline=None)
@given(text=texts(), limit=st.integers(0, jsonio.MAX_PATTERN_DEPTH + 8))
# (found by a full run: past the pattern's bound the passes paired kinds, ``{]`` unbalanced)
@example(text='{"k":' * 35 + '"' + "[" * 31 + '"]"' * 35, limit=jsonio.MAX_PATTERN_DEPTH + 1)
def test_depth_check_agrees_with_a_plain_scan(text: str, limit: int) -> None:
    assert jsonio.depth_exceeds(text, limit) is reference(text, limit)


@settings(max_examples=400, deadline=None)
@given(
    brackets=st.text(alphabet="[]{}", max_size=300),
    limit=st.integers(1, jsonio.MAX_PATTERN_DEPTH),
)
def test_the_pattern_agrees_with_the_passes(brackets: str, limit: int) -> None:
    """(kinds aside: the pattern lets ``[}`` close, the parser refuses it at that bracket,
    nested no deeper than counted; the passes pair kinds)"""
    pattern = jsonio._nested_within(limit).fullmatch(brackets) is None
    one_kind = brackets.replace("{", "[").replace("}", "]")
    assert pattern is jsonio.exceeds_by_passes(one_kind, limit)


@contextmanager
def recursion_limit(frames: int) -> Iterator[None]:
    """The interpreter's recursion limit ``frames`` above the current stack (the C scanner
    counts a level against it: Python 3.11's ``Py_EnterRecursiveCall``)."""
    depth, f = 0, sys._getframe()
    while f is not None:
        depth, f = depth + 1, f.f_back  # type: ignore[assignment]
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


SLACK = 12
"""Frames the calls from here down to the C scanner take besides its levels."""


def deep(n: int) -> str:
    return "[" * n + "]" * n


def test_the_recursion_probe_sees_the_c_scanner_nest() -> None:
    """(the probe itself: a document ``SLACK`` levels past the bound does hit it)"""
    with recursion_limit(8 + SLACK), pytest.raises(RecursionError):
        json.loads(deep(8 + 2 * SLACK))


@settings(max_examples=600, deadline=None)
@given(text=texts(), limit=st.integers(1, 40))
def test_what_the_check_passes_never_nests_deeper_in_the_c_parser(text: str, limit: int) -> None:
    """Whatever the text, once ``depth_exceeds`` passes it the C parser recurses at most
    ``limit`` levels before it ends (parsed or refused): never a RecursionError."""
    if jsonio.depth_exceeds(text, limit):
        return
    with recursion_limit(limit + SLACK):
        try:
            json.loads(text)
        except RecursionError:
            pytest.fail(f"the C parser nested past {limit} on a text the check passed")
        except ValueError:
            pass


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(), max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner,
                                                                  max_size=4),
    max_leaves=60,
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(value=JSON, ascii_only=st.booleans())
def test_valid_json_is_never_refused_within_its_depth(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    depth = _depth(value)
    assert not jsonio.depth_exceeds(text, depth)
    assert jsonio.loads(text, max_bytes=len(text) * 4 + 8, max_depth=max(depth, 1)) == value
    if depth > 1:
        assert jsonio.depth_exceeds(text, depth - 1)
        with pytest.raises(JsonLimitError, match="nested deeper"):
            jsonio.loads(text, max_bytes=len(text) * 4 + 8, max_depth=depth - 1)


def test_a_valid_order_push_past_the_parse_first_bound_is_taken() -> None:
    """Past ``PARSE_FIRST`` brackets the regex path decides: a push of orders with bracket-
    and quote-laden strings, nested exactly to the bound, is taken."""
    order = {"makerToken": '0x"[{', "salt": "\\]}", "sig": "é\U0001f600", "x": [[{"y": []}]]}
    text = json.dumps({"orders": [order] * (jsonio.PARSE_FIRST // 3)})
    assert text.count("[") + text.count("{") > jsonio.PARSE_FIRST
    got = jsonio.loads(text, max_bytes=len(text), max_depth=7)
    assert len(got["orders"]) == jsonio.PARSE_FIRST // 3
    with pytest.raises(JsonLimitError):
        jsonio.loads(text, max_bytes=len(text), max_depth=6)


SHAPES = {
    "deep at the bound, then one over at the end": '("[" * 32 + "]" * 32) * (n // 64) + "[" * 33',
    "one level under, wide": '"[" * 31 + ",".join(["[]"] * ((n - 62) // 3)) + "]" * 31',
    "deep at the bound, many": '"[" + ",".join(["[" * 31 + "]" * 31] * (n // 63)) + "]"',
    "opened forever": '"[" * n',
    "closed forever": '"]" * n',
    "mixed kinds crossed": '"[{" * (n // 4) + "]}" * (n // 4)',
    "nested to the bound, never closed": '("[" * 32 + "]" * 31) * (n // 63)',
    "strings of brackets, escaped":
        '"[" + ",".join([chr(34) + "[{" * 3 + chr(92) * 2 + chr(34)] * (n // 10)) + "]"',
    "an unclosed string ending in a backslash": '"[" * 33 + chr(34) + "[" * (n - 35) + chr(92)',
}  # fmt: skip
"""Bodies of about ``BODY`` characters (Python expressions of ``n``)."""

SCRIPT = """
import time
from sdex import jsonio
from sdex.errors import JsonLimitError
n = {n}
text = {expr}
for bound in (8, 32, jsonio.MAX_PATTERN_DEPTH):
    t = time.perf_counter()
    try:
        jsonio.loads(text, max_bytes=len(text), max_depth=bound)
        verdict = "parsed"
    except JsonLimitError as e:
        verdict = "refused (" + e.reason[:13] + ")"
    print(bound, verdict, round(time.perf_counter() - t, 3))
"""


@pytest.mark.parametrize("case", sorted(SHAPES))
def test_4_mib_shapes_are_decided_in_bounded_time(case: str) -> None:
    done = run_bounded(case, SCRIPT.format(n=BODY, expr=SHAPES[case]))
    print(case, done.stdout.replace("\n", "; "))
    verdicts = [line.split(" ", 1)[1].rsplit(" ", 1)[0] for line in done.stdout.splitlines()]
    assert len(verdicts) == 3
    if case.startswith(("one level under", "deep at the bound, many")):  # valid, 32 deep
        assert verdicts == ["refused (nested deeper)", "parsed", "parsed"], done.stdout
    if case.startswith("strings of brackets"):  # valid, 1 deep
        assert verdicts == ["parsed"] * 3, done.stdout
