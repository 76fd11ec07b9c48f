"""gossip98 (left45 "HTTP"): what an ``Expect`` costs on ``/p2p/``, on raw sockets.

- A ``/p2p/`` request refused 417 (an ``Expect`` other than ``100-continue``) was charged to
  its client's request budget, which ``guard`` skips for ``/p2p/`` (peers have their own
  limits): a peer's 417s, or a flooder's on its address, spent the API budget of every
  client there. Now it is a peer request refused before its sender was proved: charged to
  the address's budget of refusals (``sdex.gossip.refusals``), the API budget untouched.
- With ``Expect: 100-continue`` aiohttp sent the interim 100 before any middleware, so a
  client over its budget (or an unsigned peer request) was asked for its body, then refused.
  Now the 100 comes once the request passed its budget (a peer's: its signature), and a
  refused one is answered at once.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from sdex.gossip import NodeKey
from sdex.httpkit import RateLimit
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node
from tests.test_attack93_bad_heads import answer_to

BURST = 5


def asking(method: str, path: str, expect: str) -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: a\r\nExpect: {expect}\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    ).encode()


async def test_a_p2p_417_is_a_refusal_not_the_clients_request_budget(
    chain: Chain, tmp_path: Path
) -> None:
    limit = RateLimit(rate=0.01, burst=BURST)
    async with running_node(node_config(chain, tmp_path / "n.db", rate_limit=limit)) as (n, api):
        assert n.gossip is not None
        refused = n.gossip.refusals.refused
        for _ in range(BURST + 3):
            status, _headers, _body = await answer_to(api.base, asking("POST", "/p2p/hello", "x"))
            assert status == 417, status
        assert n.gossip.refusals.refused - refused == BURST + 3
        plain = b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        status, _headers, _body = await answer_to(api.base, plain)
        assert status == 200, status  # (the API budget: untouched)


async def first_answer(base: str, head: bytes, body: bytes) -> tuple[str, str]:
    """The first status line answered to ``head`` (``Expect: 100-continue``) before any of
    its body is sent; if it is a 100, then ``body`` is sent and the next one's line too."""
    url = urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(head)
        await writer.drain()
        async with asyncio.timeout(30):
            first = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0].decode()
            if " 100 " not in first + " ":
                return first, ""
            writer.write(body)
            await writer.drain()
            second = (await reader.readuntil(b"\r\n\r\n")).split(b"\r\n", 1)[0].decode()
            return first, second
    finally:
        writer.close()


def continuing(method: str, path: str, body: bytes, extra: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: a", "Expect: 100-continue"]
    lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (extra or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("fronts", [0, 1])
async def test_100_continue_only_once_the_request_passed_its_budget(
    chain: Chain, tmp_path: Path, fronts: int
) -> None:
    """aiohttp sent the 100 before any middleware: a client over its budget, or a peer
    request not signed, was asked for its body and refused after sending it. (A front
    process sends a new order's 100 itself, as before: the node's budget is checked after
    its body, ``sdex.node.fronts``; what it hands over the node answers so.)"""
    limit = RateLimit(rate=0.01, burst=BURST)
    cfg = node_config(chain, tmp_path / "n.db", rate_limit=limit, fronts=fronts)
    async with running_node(cfg) as (n, api):
        assert n.gossip is not None
        body = b"{}"
        # within its budget: the 100, then the answer to the body (an order refused)
        first, then = await first_answer(api.base, continuing("POST", "/v1/orders", body), body)
        assert first.startswith("HTTP/1.1 100") and " 400 " in then, (first, then)
        # a signed peer request: the 100 once its signature is proved, then the route
        key = NodeKey.generate()
        hello = json.dumps({"url": "http://127.0.0.1:19", "peers": []}).encode()
        signed = key.request_headers("POST", "/p2p/hello", hello, "http://127.0.0.1:19")
        head = continuing("POST", "/p2p/hello", hello, signed)
        first, then = await first_answer(api.base, head, hello)
        assert first.startswith("HTTP/1.1 100") and " 200 " in then, (first, then)
        # an unsigned one: refused at once, its body never asked for
        first, _ = await first_answer(api.base, continuing("POST", "/p2p/orders", body), body)
        assert " 401 " in first, first
        plain = b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        for _ in range(BURST):
            await answer_to(api.base, plain)
        # over its budget: 429 at once, no 100
        cancel = f"/v1/orders/0x{'00' * 32}/cancel"
        first, _ = await first_answer(api.base, continuing("POST", cancel, body), body)
        assert " 429 " in first, first
