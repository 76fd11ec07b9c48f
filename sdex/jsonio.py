"""Bounded JSON: every JSON document the node reads goes through ``loads``.

Wallet bodies, peer bodies, peers' answers and JSON-RPC answers are hostile until bounded.
Python's C JSON scanner recurses once per nesting level, and py_ecc (imported by
eth-account) raises the interpreter's recursion limit to 100,000, so a document nested
~100,000 deep overflows the C stack and kills the process instead of raising. ``loads``
therefore checks size and nesting depth *before* parsing, in a few C-speed passes:

1. strings are blanked out (brackets inside strings do not nest; an unclosed string runs
   to the end),
2. everything but brackets is dropped,
3. what is left must match brackets nested at most ``max_depth`` deep, balanced (one
   pattern of possessive repeats, ``_nested_within``); anything else is nested deeper than
   allowed (or unbalanced, which is malformed anyway).

Each pass is linear in the size, never a crash.

A document with few brackets (at most ``PARSE_FIRST`` opening ones, strings included) cannot
nest deep enough to hurt the C scanner, so it is parsed first and its depth read off the
parsed value, without the regex passes: they cost ~4x the parse itself on a push of 64
orders. A parse error there still reports depth first, as the regex path does. The brackets
are found one ``memchr`` at a time (``_openers``), and the walk of the parsed value stops
at the level below which too few brackets are left to go deeper than allowed
(``_parsed_depth_exceeds``): on top of the parse, the check cost 82% on a receipt of 600
logs, 61% on a push of 64 orders; 51% and 16% now (``bench/json_walk.py``, split63). A
wallet's order (one flat object) has fewer brackets than the bound: never walked.
"""

from __future__ import annotations

import functools
import json
import json.encoder
import re
from collections.abc import Callable
from itertools import chain
from typing import Any

from sdex.errors import JsonLimitError

_STRING = re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:"|\\?\Z)', re.DOTALL)
"""A string, or an unclosed one to the end of the text (malformed: its brackets are text).
Unrolled (no per-char branch) and possessive: a quote never closed used to be scanned to the
end from every quote after it, a time the square of the text's (review25: 64 KiB of escaped
quotes held the event loop 22 s)."""
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
"""Every byte but the brackets': deleted by ``bytes.translate`` (a table lookup a byte). A
character past ASCII is all bytes >= 0x80 in UTF-8, so none is taken for a bracket.
review27: ``re.sub`` of everything else cost a match a run: 0.8 s for a peer's 4 MiB of
``[],[],...`` (``bench/json_brackets.py``)."""
_INNERMOST = re.compile(r"\[\]|\{\}")
_ONE_KIND = str.maketrans("{}", "[]")
_chain = chain.from_iterable


def _reject_float(text: str) -> object:
    raise ValueError(f"{text} is a float: amounts are integers in decimal strings")


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows here")


CHAIN_PROBE = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
"""A JSON-RPC call a chain's endpoint answers (``{"jsonrpc": "2.0", ...}``), asked of a URL
given as an SDEX node's that answered 404 without a JSON body: anvil answers every path but its
root so, where Hardhat answers any path with JSON-RPC (anvil64)."""

PARSE_FIRST = 2_000
"""Opening brackets up to which a document is parsed before its depth is checked: the C
scanner recurses at most once per bracket, far from overflowing the C stack."""

_STRICT = json.JSONDecoder(parse_float=_reject_float, parse_constant=_reject_constant)
_PLAIN = json.JSONDecoder(parse_constant=_reject_constant)


def encoder(item_separator: str = ", ", key_separator: str = ": ") -> Callable[[Any], str]:
    """``json.JSONEncoder(separators=...).encode``, the same text, made with one C encoder
    built once: ``encode`` (and ``json.dumps``) builds a new one, and a dict to detect
    cycles, every call: about 5 us of an order's 9-14 us. No cycle check (what is encoded
    with it is made by the node, never cyclic: a cycle would end in ``RecursionError``);
    non-JSON values raise the ``TypeError`` ``encode`` raises."""
    make = getattr(json.encoder, "c_make_encoder", None)
    std = json.JSONEncoder(separators=(item_separator, key_separator))
    if make is None:  # (no C accelerator: the plain encoder)
        return std.encode
    one = make(None, std.default, json.encoder.encode_basestring_ascii, None,
               key_separator, item_separator, False, False, True)  # fmt: skip
    join = "".join

    def encode(obj: Any) -> str:
        return join(one(obj, 0))

    return encode


_ENCODE = encoder()


def dumps_bytes(obj: object) -> bytes:
    """``json.dumps(obj).encode()`` (ASCII, default separators), with the encoder made once."""
    return _ENCODE(obj).encode("ascii")


def depth_exceeds(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests brackets deeper than ``max_depth`` (or leaves them unbalanced:
    a closer with nothing open, an opener never closed; which kind closes which is the
    parser's to check), decided without recursion, in time linear in the text."""
    if text.count("[") + text.count("{") <= max_depth:
        return False  # fewer opening brackets than levels allowed: cannot be deeper
    brackets = brackets_of(text)
    if max_depth <= MAX_PATTERN_DEPTH:
        return _nested_within(max_depth).fullmatch(brackets) is None
    # (kinds made one, as the pattern takes them: the passes pair kinds, so ``{]`` read as
    # unbalanced, too deep, past the pattern's bound only; the parser checks kinds)
    return exceeds_by_passes(brackets.translate(_ONE_KIND), max_depth)


def brackets_of(text: str) -> str:
    """``text``'s brackets outside strings, in order (step 1 and 2 of the module's text)."""
    blanked = _STRING.sub("", text).encode("utf-8", "surrogatepass")
    return blanked.translate(None, _NOT_BRACKET).decode("ascii")


def exceeds_by_passes(brackets: str, max_depth: int) -> bool:
    """``depth_exceeds`` of brackets alone, the innermost pairs taken off a level a pass:
    ``max_depth`` passes over the text (a bound past ``MAX_PATTERN_DEPTH``; and the
    reference ``bench/json_depth.py`` measures the pattern against)."""
    for _ in range(max_depth):
        if not brackets:
            return False
        shorter = _INNERMOST.sub("", brackets)
        if shorter == brackets:
            return True  # unbalanced: a closer with no opener of its kind
        brackets = shorter
    return bool(brackets)


MAX_PATTERN_DEPTH = 64
"""Bounds up to which ``depth_exceeds`` matches one pattern (every caller's: 2 to 32)."""


@functools.cache
def _nested_within(depth: int) -> re.Pattern[str]:
    """Brackets (nothing else) balanced and nested at most ``depth`` deep: groups whose
    insides are groups one level shallower, every repeat possessive (a balanced sequence
    splits into groups one way only: nothing to backtrack into), so one pass over the text.
    review25: ``max_depth`` passes, each taking off the innermost pairs, held the event loop
    15 ms for a wallet's 64 KiB body nested deep at depth 8 (62 ms at 32), and ~1.2 s for a
    peer's 4 MiB (``bench/json_depth.py``)."""
    inside = ""
    for _ in range(depth):
        inside = rf"(?:[\[{{]{inside}[\]}}])*+"
    return re.compile(inside)


def loads(
    data: bytes | str,
    *,
    max_bytes: int,
    max_depth: int,
    floats: bool = False,
) -> Any:
    """Parse ``data`` as JSON after checking its size and nesting depth.

    ``floats=False`` refuses floats, NaN and Infinity (amounts are decimal strings);
    JSON-RPC answers pass ``floats=True``. Raises ``JsonLimitError`` with a reason a person
    can read; never ``RecursionError``."""
    if len(data) > max_bytes:
        raise JsonLimitError(f"more than {max_bytes} bytes", too_large=True)
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise JsonLimitError("not UTF-8") from None
    else:
        text = data
    decoder = _PLAIN if floats else _STRICT
    opened = _openers(text, PARSE_FIRST)
    if max_depth < opened <= PARSE_FIRST:  # cheap to parse, safe to parse: depth afterwards
        try:
            obj = decoder.decode(text)
        except (ValueError, RecursionError) as e:
            if depth_exceeds(text, max_depth):
                raise _too_deep(max_depth) from None
            raise JsonLimitError(str(e)) from None
        if _parsed_depth_exceeds(obj, max_depth, opened):
            raise _too_deep(max_depth)
        return obj
    if opened > max_depth and depth_exceeds(text, max_depth):
        raise _too_deep(max_depth)
    try:
        return decoder.decode(text)
    except (ValueError, RecursionError) as e:
        raise JsonLimitError(str(e)) from None


STORED_BYTES = 1 << 20
"""The most bytes of one JSON value the node reads back from its store or a file it wrote
(an order's text, a settlement's pairs, the saved head): a wallet's body is 64 KiB."""


ORDER_DEPTH = 8
"""An order's stored JSON (one object; none of its fields nests past a level or two)."""


def stored(data: bytes | str, max_depth: int) -> Any:
    """``loads`` of a JSON value read back from a file (the store's rows, the deployment
    file): written by the node, but a damaged file's is as hostile as a peer's. review27:
    ``json.loads`` of a row nested 100,000 deep stopped the node's start with
    ``RecursionError`` (the C stack overflowed, SIGSEGV, with py_ecc's recursion limit)."""
    return loads(data, max_bytes=STORED_BYTES, max_depth=max_depth, floats=True)


def _too_deep(max_depth: int) -> JsonLimitError:
    return JsonLimitError(f"nested deeper than {max_depth} (or unbalanced brackets)")


_FIND_SPAN = 128
"""Characters a bracket, on average so far, from which ``_openers`` finds brackets one at a
time (a find's ~100 ns against ~0.45 ns a character counted); denser, it counts them."""


def _openers(text: str, limit: int) -> int:
    """The opening brackets of ``text`` (those in strings too); past ``limit``, any number
    over it. One ``str.find`` (``memchr``) a bracket, where ``str.count`` reads each
    character in a loop (the two counts of a 450 KB receipt cost more than its depth walk);
    once they come more often than one in ``_FIND_SPAN`` characters (after a few: a
    document's first brackets come close together), counted after all (a hostile 64 KiB of
    ``[``: 9 finds, then the counts)."""
    n = 0
    for opener in "[{":
        found = 0
        at = text.find(opener)
        while at >= 0:
            n += 1
            found += 1
            if n > limit:
                return n
            if found > at // _FIND_SPAN + 8:
                return text.count("[") + text.count("{")
            at = text.find(opener, at + 1)
    return n


def _parsed_depth_exceeds(obj: object, max_depth: int, containers: int) -> bool:
    """Whether a parsed JSON value nests lists and objects deeper than ``max_depth`` (a
    scalar is depth 0, ``[]`` depth 1), walked level by level without recursion.
    ``containers``: at least its lists and objects (its text's opening brackets: one a
    container, more in strings). The levels below the ones walked hold at most those not
    met yet, so once ``depth`` plus those is within the bound, the rest is never walked (a
    push of 64 orders: its orders' fields; a receipt: its logs' topics)."""
    level: list[Any] = [obj] if type(obj) is dict or type(obj) is list else []
    depth = 0
    unmet = containers - len(level)
    while level:
        depth += 1
        if depth > max_depth:
            return True
        if depth + unmet <= max_depth:
            return False  # (even if every container left were nested in one chain)
        items = _chain([c.values() if type(c) is dict else c for c in level])
        level = [c for c in items if type(c) is dict or type(c) is list]
        unmet -= len(level)
    return False
