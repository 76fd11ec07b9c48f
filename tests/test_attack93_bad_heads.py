"""attack93: a request head aiohttp's parser refuses is answered with the SRA error body.

Before, such a head (a request line or header line past 8,190 bytes, too many header lines,
a NUL in the path, a method that is no token) got aiohttp's plain-text 400, which quoted the
client's bytes back, and the node logged each one at ERROR with a traceback: about 1 KB of
error log per request, for any client. Now: a 400 with ``{"code", "reason",
"validationErrors"}``, no byte of the client's in it, said at debug only; the node answers on.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

MARK = "zqzq"
"""A marker in every bad head: the answer must not quote it back."""

BAD_HEADS: dict[str, bytes] = {
    "request line too long": f"GET /v1/orders?x={MARK * 3000} HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
    "repeated params past the line": (
        "GET /v1/orders?" + "&".join(f"maker={MARK}{i}" for i in range(800)) + " HTTP/1.1\r\n"
        "Host: a\r\n\r\n"
    ).encode(),
    "header line too long": (
        f"GET /health HTTP/1.1\r\nHost: a\r\nX-A: {MARK * 3000}\r\n\r\n".encode()
    ),
    "too many header lines": (
        "GET /health HTTP/1.1\r\nHost: a\r\n"
        + "".join(f"X-{MARK}{i}: a\r\n" for i in range(300))
        + "\r\n"
    ).encode(),
    "NUL in the path": f"GET /v1/orders/{MARK}\x00 HTTP/1.1\r\nHost: a\r\n\r\n".encode(),
    "bad header name": f"GET /health HTTP/1.1\r\nHost: a\r\nX {MARK}: a\r\n\r\n".encode(),
    "bad version": f"GET /health HTTP/{MARK}\r\nHost: a\r\n\r\n".encode(),
}


async def answer_to(base: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """The node's answer to ``raw`` sent on a new connection: status, headers, body."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 30)  # (the node closes after its answer)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


async def test_a_head_the_parser_refuses_gets_the_sra_body_and_no_error_log(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_node, api):
        wrong: dict[str, object] = {}
        for case, raw in BAD_HEADS.items():
            status, headers, body = await answer_to(api.base, raw)
            if not 400 <= status < 500 or MARK.encode() in body:
                wrong[case] = (status, body[:200])
                continue
            if not headers.get("content-type", "").startswith("application/json"):
                wrong[case] = (status, headers.get("content-type"), body[:200])
                continue
            answer = json.loads(body)
            if (
                answer.get("code") != 100
                or answer.get("validationErrors") != []
                or not str(answer.get("reason", "")).startswith("Bad HTTP request")
            ):
                wrong[case] = answer
        assert wrong == {}
        errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [(r.name, r.getMessage()) for r in errors] == []
        code, health = await api.get("/health")
        assert code == 200, health
