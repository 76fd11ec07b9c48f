"""A stream frame's JSON payload (``sdex.gossip.stream``): one encoder for every frame, and a
push's orders encoded once for all the peers they go to."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from sdex.jsonio import encoder

_ENCODE = encoder(",", ":")
"""One encoder for every frame (``json.dumps`` with options builds one per call)."""


def dumps(obj: object) -> bytes:
    return _ENCODE(obj).encode()


def json_size(obj: Mapping[str, str]) -> int:
    """An upper bound of the JSON text of ``obj`` (string keys and values that need no
    escape, as an order's and a cancel proof's: hex, decimals, addresses), without encoding
    it: each item's quotes and separators counted as ``json.dumps``'s spaced ones."""
    return 2 + sum(len(k) + len(v) + 8 for k, v in obj.items())


def fits(objs: Iterable[Mapping[str, str]], max_bytes: int) -> int:
    """How many of ``objs``, from the first, a JSON list of at most ``max_bytes`` holds (by
    ``json_size``): an answer is built from what fits, not encoded whole and then measured."""
    room, n = max_bytes - 2, 0  # (the list's brackets)
    for o in objs:
        room -= json_size(o) + 1  # (and its comma)
        if room < 0:
            break
        n += 1
    return n


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
