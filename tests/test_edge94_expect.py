"""edge94: an ``Expect`` other than ``100-continue`` gets the SRA error body, on every route.

aiohttp's default expect handler (each route's, run before any middleware) answered such a
request 417 in plain text, "Unknown Expect: " and the client's value as sent. Now: 417 with
``{"code": 100, "reason", "validationErrors": []}`` and none of the client's bytes, on the
API, the web page's routes, the static files, ``/p2p/``, an unknown path, and from a front
process; ``100-continue`` is still answered 100 and the request served.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack93_bad_heads import MARK, answer_to

PATHS = [
    ("GET", "/v1/orders"),
    ("POST", "/v1/orders"),
    ("GET", "/health"),
    ("GET", "/"),
    ("GET", "/static/app.js"),
    ("GET", "/web/status"),
    ("POST", "/p2p/orders"),
    ("GET", "/no/such/path"),
]


def asking(method: str, path: str, expect: str) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: a\r\nExpect: {expect}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ).encode()


def wrong_answer(status: int, headers: dict[str, str], body: bytes) -> object:
    """What is wrong with an answer to an unknown expectation (None: nothing)."""
    if status != 417 or MARK.encode() in body:
        return (status, body[:200])
    if not headers.get("content-type", "").startswith("application/json"):
        return (headers.get("content-type"), body[:200])
    answer = json.loads(body)
    if answer.get("code") != 100 or answer.get("validationErrors") != []:
        return answer
    if "100-continue" not in str(answer.get("reason")):
        return answer
    return None


async def test_an_unknown_expectation_gets_the_sra_body_on_every_route(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_node, api):
        wrong: dict[str, object] = {}
        for method, path in PATHS:
            status, headers, body = await answer_to(api.base, asking(method, path, f"{MARK}-1"))
            if (what := wrong_answer(status, headers, body)) is not None:
                wrong[f"{method} {path}"] = what
        assert wrong == {}
        # 100-continue: the interim 100, then the route's own answer
        status, _headers, body = await answer_to(api.base, asking("GET", "/health", "100-Continue"))
        assert status == 100 and b"HTTP/1.1 200 OK" in body, body[:300]


async def test_an_unknown_expectation_gets_the_sra_body_from_a_front(
    chain: Chain, tmp_path: Path
) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db", fronts=1)) as (_node, api):
        code, health = await api.get("/health")
        assert code == 200 and health["fronts"]["running"] == 1, health
        wrong: dict[str, object] = {}
        for method, path in [("POST", "/v1/orders"), ("GET", "/v1/orders")]:
            status, headers, body = await answer_to(api.base, asking(method, path, MARK))
            if (what := wrong_answer(status, headers, body)) is not None:
                wrong[f"{method} {path}"] = what
        assert wrong == {}
