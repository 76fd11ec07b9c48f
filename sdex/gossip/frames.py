"""What a stream frame carries (``sdex.gossip.stream``): a request's or an answer's JSON
envelope, read bounded; answers one or grouped; and the bound on one answer.

The dialer reads at most ``MAX_ANSWER`` (plus the envelope) a frame, and a bigger frame
closes its stream (every call on it fails). So an answer whose body is over ``MAX_ANSWER``
is never sent: that one request is answered ``TOO_LARGE`` instead (a bounded error, as
over HTTP, where the dialer stops reading past ``MAX_ANSWER`` and only that call fails),
and the stream carries on.
"""

from __future__ import annotations

from typing import Any

from sdex import jsonio
from sdex.errors import JsonLimitError
from sdex.gossip import actions
from sdex.gossip.client import MAX_ANSWER
from sdex.gossip.codec import FrameError
from sdex.gossip.payload import dumps
from sdex.model import error_body

MAX_DEPTH = 9  # a body's depth (8) inside the envelope
MAX_ANSWERS = 64
"""Answers one frame may carry (a dialer that asked, ``acks=1``, gets a turn's together)."""
# An answer too large for a frame (the request was fine; its answer is not sent): that call
# fails, as over HTTP, unless a flow asks again for less (``actions.SPLITS``).
TOO_LARGE = actions.TOO_LARGE


def envelope(payload: bytes, max_bytes: int) -> dict[str, Any]:
    try:
        obj = jsonio.loads(payload, max_bytes=max_bytes, max_depth=MAX_DEPTH)
    except JsonLimitError as e:
        raise FrameError(f"malformed frame: {e.reason}") from None
    if not isinstance(obj, dict):
        raise FrameError("a frame is a JSON object")
    return obj


def frame_id(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**53:
        raise FrameError("a frame's id must be an integer")
    return value


def answers(frame: dict[str, Any]) -> list[tuple[int, int, Any]]:
    """An answer frame's (id, status, body): one (``{"r", "s", "b"}``), or the answers of one
    turn together (``{"a": [[id, status, body], ...]}``, at most ``MAX_ANSWERS``)."""
    group = frame.get("a")
    if group is None:
        return [(frame_id(frame.get("r")), frame_id(frame.get("s")), frame.get("b"))]
    if not isinstance(group, list) or not 0 < len(group) <= MAX_ANSWERS:
        raise FrameError(f"a group of answers is a list of 1 to {MAX_ANSWERS}")
    out = []
    for item in group:
        if not isinstance(item, list) or len(item) != 3:
            raise FrameError("an answer in a group is [id, status, body]")
        out.append((frame_id(item[0]), frame_id(item[1]), item[2]))
    return out


def answer(rid: int, status: int, body: object) -> tuple[int, int, bytes]:
    """(id, status, body encoded) of one answer, within what the dialer reads: a body over
    ``MAX_ANSWER`` becomes a ``TOO_LARGE`` error naming its size."""
    data = dumps(body)
    if len(data) > MAX_ANSWER:
        reason = f"the answer ({len(data)} bytes) is over {MAX_ANSWER}, {actions.TOO_LARGE_REASON}"
        return rid, TOO_LARGE, dumps(error_body(100, reason))
    return rid, status, data


def payload(group: list[tuple[int, int, bytes]]) -> bytes:
    """One answer as ``{"r", "s", "b"}``, several as ``{"a": [[id, status, body], ...]}``."""
    if len(group) == 1:
        return b'{"r":%d,"s":%d,"b":%b}' % group[0]
    return b'{"a":[' + b",".join(b"[%d,%d,%b]" % a for a in group) + b"]}"
