"""Issue 15: one builder of the SRA error body (``sdex.model.error_body``). The websocket's
error events (a bad book request, a throttled socket) carry the same body, so they are built
by it too: no other module of sdex/ spells the body's ``validationErrors`` key in a dict."""

from __future__ import annotations

import ast
from pathlib import Path

from sdex.model import THROTTLED, VALIDATION_FAILED, error_body
from sdex.node.bookrequest import BadRequest
from sdex.node.wsapi import THROTTLED_EVENT

SDEX = Path(__file__).resolve().parent.parent / "sdex"


def body_builders() -> list[str]:
    """``path:line`` of every dict display in sdex/ with a ``"validationErrors"`` key (its
    readers, e.g. ``body.get("validationErrors")``, are not dict displays)."""
    found = []
    for path in sorted(SDEX.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value == "validationErrors" for k in node.keys
            ):
                found.append(f"{path.relative_to(SDEX.parent)}:{node.lineno}")
    return found


def test_the_error_body_has_one_builder() -> None:
    assert body_builders() == ["sdex/model.py:248"]


def test_the_websockets_error_events_carry_that_body() -> None:
    assert BadRequest("no such pair").event() == {
        "type": "error",
        **error_body(VALIDATION_FAILED, "no such pair"),
    }
    fielded = BadRequest("not an address", field="baseToken", code=1001).event()
    assert fielded == {
        "type": "error",
        **error_body(
            VALIDATION_FAILED,
            "not an address",
            [{"field": "baseToken", "code": 1001, "reason": "not an address"}],
        ),
    }
    assert list(fielded) == ["type", "code", "reason", "validationErrors"]
    assert {
        "type": "error",
        **error_body(THROTTLED, "Throttled: too many requests"),
    } == THROTTLED_EVENT
