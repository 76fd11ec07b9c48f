"""review29: a signed /p2p/ request is refused when replayed at its own node whatever way its
signature is spelt. The replay cache keys a request by its signature's text; the signature
was read leniently (v as 27/28 or 0/1, ``0x`` optional, ``bytes.fromhex``'s whitespace
between bytes), so one request, seen on the path, was taken again under each spelling as
its signer's: its rate budget, its score's rewards, the node's work."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from sdex.gossip import NodeKey, identity
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

A_URL = "http://127.0.0.1:19"


def spellings(sig: str) -> list[str]:
    """The same 65-byte signature written other ways (each recovers the same key)."""
    hexa = sig.removeprefix("0x")
    v = int(hexa[128:], 16)
    return [
        hexa,  # no 0x
        "0x" + hexa[:128] + f"{v - 27:02x}",  # v as 0/1
        "0x" + hexa[:2] + " " + hexa[2:],  # whitespace between bytes
        "0x" + hexa[:64] + "\t" + hexa[64:],
        hexa[:128] + f"{v - 27:02x}",
    ]


def test_each_spelling_recovers_the_same_signer_and_is_refused() -> None:
    a = NodeKey.generate()
    to = NodeKey.generate().node_id
    signed = a.request_headers("POST", "/p2p/hashes", b"{}", A_URL, to=to)
    assert identity.verify_request("POST", "/p2p/hashes", signed).node_id == a.node_id
    for sig in spellings(signed[identity.HEADER_SIG]):
        with pytest.raises(identity.AuthError):
            identity.verify_request("POST", "/p2p/hashes", {**signed, identity.HEADER_SIG: sig})


async def test_a_request_replayed_under_another_spelling_is_refused(
    chain: Chain, tmp_path: Path
) -> None:
    async with (
        running_node(node_config(chain, tmp_path / "b.db")) as (b, _),
        aiohttp.ClientSession() as session,
    ):
        assert b.gossip is not None
        a = NodeKey.generate()
        assert b.gossip.peers.admit(a.node_id, A_URL) is not None
        url = f"http://{b.config.host}:{b.config.port}/p2p/hashes"
        body = json.dumps({"buckets": [1]}).encode()
        signed = a.request_headers("POST", "/p2p/hashes", body, A_URL, to=b.gossip.key.node_id)
        headers = {**signed, "Content-Type": "application/json"}

        async def status(sig: str) -> int:
            async with session.post(
                url, data=body, headers={**headers, identity.HEADER_SIG: sig}
            ) as r:
                return r.status

        assert await status(signed[identity.HEADER_SIG]) == 200
        assert await status(signed[identity.HEADER_SIG]) == 401  # the plain replay
        got = [await status(sig) for sig in spellings(signed[identity.HEADER_SIG])]
        assert got == [401] * len(got)
