"""review83: a request body sent with a ``Content-Encoding`` (gzip, deflate) was decompressed
by aiohttp before any bound of the node's read it, on a real node over loopback:

- a signed order posted gzipped or deflated was taken (201/200), its body's bytes never the
  ones the node bounded (``max_body`` counted the decompressed text, ``Content-Length`` the
  compressed one);
- junk sent as gzip answered 500, a traceback logged as a bug each time ("unexpected error");
  junk sent as deflate closed the connection with no answer (aiohttp's "Unhandled exception");
- a body of ~60 KiB compressed from ~60 MB was inflated in full, on the event loop, to be
  refused 413 (and a 1 MiB one, ~1 GB, inflated while its connection lingered): ~1,000 times
  the CPU of the bytes sent.

Now no request body is decompressed (the server's ``auto_decompress`` off) and a body with a
``Content-Encoding`` other than ``identity`` is refused 415 with the SRA body, nothing taken."""

from __future__ import annotations

import gzip
import logging
import zlib
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sdex.gossip import NodeKey
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

E18 = 10**18
E6 = 10**6


def _order(c: Chain, price: int) -> dict[str, Any]:
    return dict(c.sign(c.order(1, c.weth, E18, c.usdc, price * E6)).to_json())


def _json(obj: object) -> bytes:
    import json

    return json.dumps(obj).encode()


STRANGER = "http://127.0.0.1:9"

CASES = [
    ("gzip", lambda o: gzip.compress(_json(o))),
    ("deflate", lambda o: zlib.compress(_json(o))),
    ("GZIP", lambda o: gzip.compress(_json(o))),
    ("gzip", lambda o: b"not gzip at all"),
    ("deflate", lambda o: b"not deflate at all"),
    ("br", lambda o: b"not brotli"),
    ("gzip", lambda o: gzip.compress(b" " * (60 << 20), 9)),  # (~60 KiB: under max_body)
    ("identity, gzip", lambda o: gzip.compress(_json(o))),
]


async def test_an_encoded_body_is_refused_unread(
    chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each encoded body, an order or its cancel: 415 and the SRA body (code 101) naming
    the encoding, nothing taken, no error logged; the same order plain is then taken."""
    c = chain
    caplog.set_level(logging.ERROR)
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        async with aiohttp.ClientSession(auto_decompress=False) as s:
            for i, (encoding, make) in enumerate(CASES):
                order = _order(c, 3000 + i)
                for path in ("/v1/orders", f"/v1/orders/{'0x' + '11' * 32}/cancel"):
                    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
                    body = make(order if path == "/v1/orders" else {"signature": "0x" + "00" * 65})
                    async with s.post(api.base + path, data=body, headers=headers) as r:
                        answer = await r.json(content_type=None)
                        assert r.status == 415, (encoding, path, r.status, answer)
                        assert answer["code"] == 101 and "Content-Encoding" in answer["reason"]
            # a peer's signed push, its signed hash the gzipped bytes': refused as unread too
            assert node.gossip is not None
            stranger, to = NodeKey.generate(), node.gossip.key.node_id
            body = gzip.compress(_json({"orders": [_order(c, 2990)]}))
            headers = stranger.request_headers("POST", "/p2p/orders", body, STRANGER, to=to)
            headers |= {"Content-Type": "application/json", "Content-Encoding": "gzip"}
            async with s.post(api.base + "/p2p/orders", data=body, headers=headers) as r:
                assert r.status == 415, await r.text()
        assert len(node.records) == 0 and node.events.published == 0
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert errors == []
        code, answer = await api.post("/v1/orders", _order(c, 2999))
        assert code == 201, answer
        async with aiohttp.ClientSession() as s:  # (identity is no encoding: taken)
            order = _order(c, 2998)
            headers = {"Content-Type": "application/json", "Content-Encoding": "identity"}
            async with s.post(api.base + "/v1/orders", data=_json(order), headers=headers) as r:
                assert r.status == 201, await r.text()
