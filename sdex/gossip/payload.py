"""A stream frame's JSON payload (``sdex.gossip.stream``): one encoder for every frame, and a
push's orders encoded once for all the peers they go to."""

from __future__ import annotations

import json
import json.encoder
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any


def encoder(item_separator: str = ", ", key_separator: str = ": ") -> Callable[[Any], str]:
    """``json.JSONEncoder(separators=...).encode``, the same text, made with one C encoder
    built once: ``encode`` builds a new one (and a dict to detect cycles) every call, about
    5 us of an order's 9-14 us. No cycle check (what is encoded here is made by the node,
    never cyclic: a cycle would end in ``RecursionError``); non-JSON values raise the
    ``TypeError`` ``encode`` raises."""
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


_ENCODE = encoder(",", ":")
"""One encoder for every frame (``json.dumps`` with options builds one per call)."""


def dumps(obj: object) -> bytes:
    return _ENCODE(obj).encode()


ORDER_TEXTS = 4096
"""Orders whose JSON is kept (oldest dropped first): a node pushes each order it accepts to
up to ``fanout`` peers within a few flushes, so it is encoded once, not once per peer."""
_order_texts: OrderedDict[int, tuple[object, bytes]] = OrderedDict()
"""id(order) -> (that order, its JSON). The entry holds the order, so its id is not reused
while cached, and a hit must be the very same object (orders are not changed once pushed)."""


def remember(order: object, text: bytes) -> None:
    """``order``'s JSON text as its node already encoded it (any valid JSON of it: the node's
    has ``json.dumps``'s spaces): its pushes use that text instead of encoding it again."""
    texts = _order_texts
    if len(texts) >= ORDER_TEXTS:
        texts.popitem(last=False)  # (O(1); a plain dict's first key is a scan once full)
    texts[id(order)] = (order, text)


def request(rid: int, method: str, path: str, query: Mapping[str, str], body: object) -> bytes:
    """A request frame's payload: ``dumps`` of its envelope, a push's orders from the cache
    (and the rest of its body, ``also``, encoded as usual)."""
    orders = body.get("orders") if type(body) is dict else None
    if type(orders) is not list:
        return dumps({"i": rid, "m": method, "p": path, "q": query, "b": body})
    assert isinstance(body, dict)
    texts, parts = _order_texts, []
    for o in orders:
        hit = texts.get(id(o))
        if hit is not None and hit[0] is o:
            parts.append(hit[1])
            continue
        text = _ENCODE(o).encode()
        remember(o, text)
        parts.append(text)
    rest = dumps({k: v for k, v in body.items() if k != "orders"})  # b"{}" or b'{"also":…}'
    head = dumps({"i": rid, "m": method, "p": path, "q": query})[:-1]
    tail = b"}}" if rest == b"{}" else b"," + rest[1:] + b"}"
    return head + b',"b":{"orders":[' + b",".join(parts) + b"]" + tail
