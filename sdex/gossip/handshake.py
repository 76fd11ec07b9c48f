"""The stream's keys (``sdex.gossip.stream``'s handshake): the acceptor's half of the
handshake, and the per-direction keys both sides derive from ECDH and both nonces."""

from __future__ import annotations

import hmac
import json
import secrets

from aiohttp import web

from sdex.gossip.codec import Codec
from sdex.gossip.identity import NodeKey, answer_digest

NONCE = 32
_TAG = b"SDEX-P2P-STREAM-v1"
DIALER, ACCEPTOR = b"D", b"A"


def session_keys(
    key: NodeKey, other: bytes, nonces: tuple[bytes, bytes], ids: tuple[str, str]
) -> tuple[bytes, bytes]:
    """(dialer→acceptor key, acceptor→dialer key); ``nonces`` and ``ids``: dialer's first."""
    info = _TAG + nonces[0] + nonces[1] + ids[0].encode() + ids[1].encode()
    master = hmac.digest(key.ecdh(other), info, "sha256")
    return hmac.digest(master, DIALER, "sha256"), hmac.digest(master, ACCEPTOR, "sha256")


async def accept(
    ws: web.WebSocketResponse,
    key: NodeKey,
    peer: str,
    peer_key: bytes,
    request_sig: str,
    theirs: bytes,
) -> Codec:
    """Send this node's half of the handshake on a prepared websocket; the stream's codec."""
    nonce = secrets.token_bytes(NONCE)
    signature = key.sign(answer_digest(request_sig, 101, "0x" + nonce.hex()))
    await ws.send_str(json.dumps({"nonce": nonce.hex(), "signature": signature}))
    d2a, a2d = session_keys(key, peer_key, (theirs, nonce), (peer, key.node_id))
    return Codec((a2d, ACCEPTOR), (d2a, DIALER))
