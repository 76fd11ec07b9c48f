"""attack29: a signed /p2p/ request is refused as a replay in every spelling of its signature.

The replay guard (``sdex.gossip.replay``) remembered a request by its signature header as
sent (lowercased), while verification accepts the same 65 bytes with or without ``0x`` and
with v as 27/28 or 0/1. Live, against a running node: one signed ``POST /p2p/orders``
was answered 200 four times (as sent; without ``0x``; v 0/1; both), only the exact copy
(and its upper-case form) refused as a replay; spaces between its bytes passed too.
review29 found the same and fixed it at the root: verification takes the signature in the one
spelling ``NodeKey.sign`` writes, so every other spelling is refused before the guard.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from sdex.gossip import NodeKey
from sdex.gossip.identity import HEADER_SIG
from tests.p2putil import gossip_net, order


def _spellings(sig: str) -> list[str]:
    """The same signature bytes as verification accepts them: with or without ``0x``, v as
    27/28 or 0/1, any case, spaces between bytes (``bytes.fromhex``)."""
    raw = bytes.fromhex(sig.removeprefix("0x"))
    other_v = raw[:64] + bytes([raw[64] - 27])
    spaced = "0x" + " ".join(raw[i : i + 13].hex() for i in range(0, 65, 13))
    return [sig[2:], "0x" + other_v.hex(), other_v.hex(), "0x" + sig[2:].upper(), spaced]


@pytest.mark.parametrize("form", range(5))
async def test_a_signed_request_is_refused_again_in_another_spelling(form: int) -> None:
    async with gossip_net(1, connect=False) as (member,), aiohttp.ClientSession() as session:
        key = NodeKey.generate()
        body = json.dumps({"orders": [order(1)]}).encode()
        path = "/p2p/orders"
        headers = key.request_headers(
            "POST", path, body, "http://127.0.0.1:9", member.gossip.key.node_id
        )
        headers["Content-Type"] = "application/json"
        async with session.post(member.url + path, data=body, headers=headers) as r:
            assert r.status == 200, await r.text()
        again = dict(headers)
        again[HEADER_SIG] = _spellings(headers[HEADER_SIG])[form]
        async with session.post(member.url + path, data=body, headers=again) as r:
            text = await r.text()
            # before: 200 for every form but the upper-case one
            refused = "replay" in text or "in 130 hex digits" in text
            assert r.status == 401 and refused, (r.status, text)
        assert member.node.checked == 1
