"""review27: the depth check keeps a text's brackets by deleting every other byte of its
UTF-8 (``bytes.translate``), not by ``re.sub`` a run of them (0.8 s for a peer's 4 MiB of
``[],[],...``: ``bench/json_brackets.py``). The same brackets, whatever the text: past
ASCII, lone surrogates (a ``str`` a caller built), escapes and unclosed strings."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from sdex import jsonio

NOT_BRACKET = re.compile(r"[^\[\]{}]+")
"""The reference: what the check removed before."""

ALPHABET = st.sampled_from([*'[]{}"\\,a \n', "é", "€", "𝄞", "\ud800", "\x00", "\x7f"])


@settings(max_examples=800, deadline=None)
@given(text=st.lists(ALPHABET, max_size=60).map("".join))
def test_the_brackets_are_those_the_regex_kept(text: str) -> None:
    assert jsonio.brackets_of(text) == NOT_BRACKET.sub("", jsonio._STRING.sub("", text))


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=80))
def test_any_text_keeps_the_same_brackets(text: str) -> None:
    assert jsonio.brackets_of(text) == NOT_BRACKET.sub("", jsonio._STRING.sub("", text))
