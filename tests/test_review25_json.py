"""review25: the bounded JSON reader's depth check costs time linear in the body.

Its first pass blanked out strings with a regex that, at an opening quote with no closing
one, scanned to the end and failed, then started again at the next quote: a body of escaped
quotes after one unclosed quote (``["\\"\\"\\"...``) cost the square of its length, on the
event loop. 64 KiB (a wallet's POST bound) held it 22 s; 4 MiB (a peer's) for hours.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdex import jsonio
from sdex.errors import JsonLimitError

BODY = 4 * 1024 * 1024
"""A peer's body bound (``sdex.gossip.stream.MAX_P2P_BODY``)."""

HOSTILE = {
    "escaped quotes after an unclosed one": '"[" * 40 + chr(34) + (chr(92) + chr(34)) * (n // 2)',
    "backslash pairs after an unclosed quote": '"[" * 40 + chr(34) + chr(92) * n',
    "quotes and escapes alternating": '"{" * 40 + (chr(34) + chr(92) + chr(34)) * (n // 3)',
    "an unclosed quote, brackets after": '"[" * 40 + chr(34) + "[" * n',
}
"""Bodies of about ``BODY`` bytes (Python expressions of ``n``), each malformed."""

SCRIPT = """
import sys
from sdex import jsonio
from sdex.errors import JsonLimitError
n = {n}
text = {expr}
try:
    jsonio.loads(text, max_bytes=len(text), max_depth=32)
except JsonLimitError as e:
    print("refused:", e.reason)
else:
    print("parsed")
"""

BOUND = 60.0
"""Seconds the process may take (linear: well under 1 s; quadratic: hours)."""


def run_bounded(case: str, code: str) -> subprocess.CompletedProcess[str]:
    """``code`` run by a Python process of its own, which must end within ``BOUND`` seconds
    (a bound against hours, not a timing: no benchmark) and exit 0."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=BOUND
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{case}: jsonio.loads ran past {BOUND:g}s on a {BODY}-byte body")
    assert done.returncode == 0, done.stderr[-2000:]
    return done


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_body_of_unclosed_strings_is_refused_in_bounded_time(case: str) -> None:
    done = run_bounded(case, SCRIPT.format(n=BODY - 41, expr=HOSTILE[case]))
    assert done.stdout.startswith("refused:"), done.stdout


def _reference(text: str, limit: int) -> bool:
    """``depth_exceeds`` by a plain scan: strings (to their end, or the text's) hold no
    brackets; more brackets opened than ``limit`` in the text and nested deeper than it,
    or left unbalanced (a closer with nothing open, an opener never closed: which kind
    closes which is the parser's to check)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = deepest = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth -= 1
            if depth < 0:
                return True
        i += 1
    return depth != 0 or deepest > limit


@settings(max_examples=600, deadline=None)
@given(text=st.text(alphabet='[]{}"\\a', max_size=40), limit=st.integers(0, 6))
def test_depth_check_agrees_with_a_plain_scan_on_any_text(text: str, limit: int) -> None:
    assert jsonio.depth_exceeds(text, limit) is _reference(text, limit)


@pytest.mark.parametrize(
    "text", ['["a"]', '[["\\""]]', '{"k": ["[", "]", "\\\\"]}', "[" * 33 + '"' + "]" * 33]
)
def test_small_documents_keep_their_verdicts(text: str) -> None:
    try:
        jsonio.loads(text, max_bytes=1024, max_depth=32)
    except JsonLimitError:
        assert text.startswith("[" * 33)
