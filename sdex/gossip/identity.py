"""Who a peer is: the secp256k1 key it proves on every ``/p2p/`` request and answer.

A node's gossip identity is a private key of its own (not the operator's settlement key),
kept in a file beside its database and created on first start. Its *node id* is the
key's Ethereum-style address. A peer is the id that signed, never a URL or header it
claims: scores, bans, rate limits and de-duplication are per id.

Every request carries five headers:

- ``X-SDEX-To``: the node id of the node the request is for, as the sender knows it (empty
  only for a ``hello`` to a URL whose id the sender does not know yet). A node refuses a
  request addressed to another id, so a request a peer received cannot be replayed at any
  other node as its signer's (an unaddressed hello is taken as a stranger's: see
  ``sdex.gossip.gate``; what it may introduce: ``GossipCore.hello``); replays at the same
  node are refused by ``sdex.gossip.replay``;
- ``X-SDEX-Node``: the URL where the sender says it can be reached (trusted only after a
  signed ``hello`` answered from that URL, see ``sdex.gossip.peers``);
- ``X-SDEX-Time``: unix milliseconds (a request more than ``MAX_SKEW_MS`` away is refused);
- ``X-SDEX-Body``: keccak256 of the body bytes;
- ``X-SDEX-Signature``: the sender's signature over ``request_digest(...)`` of the method,
  the raw path with query, the time, the body hash, the claimed URL and the addressee.

So the receiver knows who is talking before it reads the body, and checks the body against
the signed hash after reading it (bounded). Every answer is signed too, over the request's
signature, the status and the answer's body hash: a node knows which key answered at a URL.
"""

from __future__ import annotations

import os
import re
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import coincurve
from eth_hash.auto import keccak

from sdex import localfile
from sdex.errors import SignatureError
from sdex.order import address_of
from sdex.signature import SECP256K1_N, point_address, signature_parts

HEADER_URL = "X-SDEX-Node"
HEADER_TIME = "X-SDEX-Time"
HEADER_BODY = "X-SDEX-Body"
HEADER_SIG = "X-SDEX-Signature"
HEADER_TO = "X-SDEX-To"
HEADER_STARTED = "X-SDEX-Started"
"""Unix ms a node started at, on its 401 to a request signed before (``sdex.gossip.replay``)."""
MAX_SKEW_MS = 30_000
"""How far a request's time may be from ours (clock skew plus transit)."""

_REQUEST_TAG = b"SDEX-P2P-REQUEST-v2"  # (v2: the addressee is signed too)
_ANSWER_TAG = b"SDEX-P2P-ANSWER-v1"


def started_at(headers: Mapping[str, str]) -> int | None:
    """The start time a node's 401 gave (``HEADER_STARTED``), if it is unix ms."""
    raw = headers.get(HEADER_STARTED, "")
    return int(raw) if 0 < len(raw) <= 15 and raw.isascii() and raw.isdigit() else None


def body_hash(body: bytes) -> str:
    return "0x" + keccak(body).hex()


def request_digest(
    method: str, path_qs: str, time_ms: int, body_hex: str, url: str, to: str = ""
) -> bytes:
    """What a request's signature covers (fields joined with NUL, which none contains)."""
    parts = (_REQUEST_TAG, method.upper(), path_qs, str(time_ms), body_hex.lower(), url, to.lower())
    return keccak(b"\x00".join(p if isinstance(p, bytes) else p.encode() for p in parts))


def answer_digest(request_sig: str, status: int, body_hex: str) -> bytes:
    """What an answer's signature covers: the request it answers, its status and body."""
    parts = (_ANSWER_TAG, request_sig.lower(), str(status), body_hex.lower())
    return keccak(b"\x00".join(p if isinstance(p, bytes) else p.encode() for p in parts))


_REQUEST_SIG = re.compile(r"0x[0-9a-fA-F]{128}1[bcBC]")
"""A request's signature as ``NodeKey.sign`` writes it, the only form taken (review29: v as
0/1, no ``0x`` or whitespace between bytes recovered the same key under another text, and
the replay cache, keyed by the text, took one request again under each)."""

FLOORS_MAX = 1024
"""Nodes a key signs for at a later time than its clock's at once (``NodeKey.sign_after``)."""

KEY_FILE_MAX = 4096
"""Bytes of a node key file read at most (a key with ``0x``, spaces and a newline is ~70)."""


@dataclass(frozen=True)
class NodeKey:
    """A node's gossip identity (it signs every request and answer: the parsed key and the
    id are computed once, not per message)."""

    private_key: bytes = field(repr=False)
    _last_ms: list[int] = field(default_factory=lambda: [0], init=False, repr=False, compare=False)
    """The time of this key's last signed request: each is signed at a later millisecond.
    (Signatures are deterministic: two identical requests in one millisecond would be one
    signature, and the second refused as a replay. Only a key signing over 1,000 requests a
    second runs ahead of the clock, by the excess.)"""
    _floors: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Node id (a hello's: its URL) -> the time its next request is signed at, at least
    (``sign_after``)."""

    @cached_property
    def node_id(self) -> str:
        return address_of(self.private_key)

    @cached_property
    def _key(self) -> coincurve.PrivateKey:
        return coincurve.PrivateKey(self.private_key)

    def sign(self, digest: bytes) -> str:
        """A 65-byte r‖s‖v signature (v = 27/28, low-s) over ``digest``, as hex."""
        raw = self._key.sign_recoverable(digest, hasher=None)
        return "0x" + raw[:64].hex() + f"{raw[64] + 27:02x}"

    def ecdh(self, public_key: bytes) -> bytes:
        """A secret only this key and the holder of ``public_key`` can compute (sha256 of the
        shared point): the seed of a stream's session keys (``sdex.gossip.stream``)."""
        return self._key.ecdh(public_key)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def load_or_create(cls, path: Path) -> NodeKey:
        """The key in ``path`` (hex), or a new one written there (mode 0600) if absent;
        ``ValueError`` naming the file and what is wrong for any other content (user28: an
        address said only "32 bytes of hex", a zero key the curve library's words, binary
        junk a UTF-8 error, none naming the file)."""
        try:  # (bounded, never blocking on a FIFO: wallet80; a key is 66 bytes)
            data: bytes | None = localfile.read_bounded(path, KEY_FILE_MAX)
        except localfile.LocalFileError as e:
            if not e.missing:
                raise ValueError(f"node key file {path} cannot be used: {e}") from None
            data = None
        if data is not None:
            text = data.decode("ascii", "replace").strip().removeprefix("0x")
            hexa = all(c in string.hexdigits for c in text)
            if not (hexa and len(text) == 64):
                said = f"node key file {path} must hold a private key: 64 hex digits (0x optional)"
                if hexa and len(text) == 40:
                    said += "; it holds an address (20 bytes), not a private key"
                raise ValueError(said)
            raw = bytes.fromhex(text)
            if not 0 < int.from_bytes(raw, "big") < SECP256K1_N:
                raise ValueError(f"node key file {path} holds 0 or a number past the curve's order")
            return cls(raw)
        key = cls.generate()
        try:  # (O_EXCL: never through a link that points at nothing, never over a file)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError as e:
            said = e.strerror or str(e)
            if os.path.islink(path):
                said = "it is a symbolic link to no file"
            raise ValueError(f"node key file {path} cannot be made: {said}") from None
        with os.fdopen(fd, "w") as f:
            f.write("0x" + key.private_key.hex() + "\n")
        return key

    def request_headers(
        self, method: str, path_qs: str, body: bytes, url: str, to: str = "", dest: str = ""
    ) -> dict[str, str]:
        """The signed headers of a request to the node whose id is ``to`` ("": a hello to a
        URL whose id is not known yet, ``dest``; any other request must name its node)."""
        now_ms = max(int(time.time() * 1000), self._last_ms[0] + 1)
        self._last_ms[0] = now_ms
        whom = to.lower() or dest
        if self._floors and (floor := self._floors.get(whom)) is not None:
            if floor > now_ms:  # (its node started after our clock's now: ``sign_after``)
                now_ms, self._floors[whom] = floor, floor + 1  # (each its own ms)
            else:
                del self._floors[whom]
        bh = body_hash(body)
        sig = self.sign(request_digest(method, path_qs, now_ms, bh, url, to))
        return {HEADER_URL: url, HEADER_TIME: str(now_ms), HEADER_BODY: bh, HEADER_SIG: sig,
                HEADER_TO: to.lower()}  # fmt: skip

    def sign_after(self, to: str, started_ms: int) -> bool:
        """Sign the next requests to the node ``to`` (its id, or a hello's URL: ``dest``) at
        ``started_ms`` or later: it refused one
        signed before it started then (``sdex.gossip.replay``; review97c: a peer whose clock
        runs behind that node's had every request refused for as long after its restart, up
        to ``MAX_SKEW_MS``, each a failure toward its eviction, its pushes held). Taken only
        ahead of our clock by at most ``MAX_SKEW_MS`` (a node's own requests are refused past
        that anyway: a forged one costs no more than that wait); ``FLOORS_MAX`` nodes at once.
        Whether it was taken."""
        now = int(time.time() * 1000)
        if not to or not now < started_ms <= now + MAX_SKEW_MS:
            return False
        floors = self._floors  # (an id lowercase, as ``request_headers`` keys it)
        if to not in floors and len(floors) >= FLOORS_MAX:
            for gone in [k for k, v in floors.items() if v <= now]:
                del floors[gone]
            if len(floors) >= FLOORS_MAX:
                return False
        floors[to] = max(floors.get(to, 0), started_ms)
        return True

    def answer_headers(self, request_sig: str, status: int, body: bytes) -> dict[str, str]:
        bh = body_hash(body)
        return {HEADER_BODY: bh, HEADER_SIG: self.sign(answer_digest(request_sig, status, bh))}


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A request's verified envelope: who signed it and what it claims."""

    node_id: str
    url: str
    signature: str
    body_hash: str
    key: bytes = b""
    """The signer's public key (33 bytes, compressed): a stream's key exchange needs it."""
    to: str = ""
    """The node id it is addressed to, lowercase ("": none, a first hello)."""
    time_ms: int = 0
    """The time it was signed at (``HEADER_TIME``, unix ms)."""


class AuthError(ValueError):
    """A /p2p/ request or answer whose signature does not hold."""


def verify_request(
    method: str, path_qs: str, headers: dict[str, str], now_ms: int | None = None
) -> SignedRequest:
    """Check a request's headers (not yet its body); the signer's id, or ``AuthError``."""
    url, ts, bh, sig = (
        headers.get(h, "") for h in (HEADER_URL, HEADER_TIME, HEADER_BODY, HEADER_SIG)
    )
    if not (url and ts and bh and sig):
        raise AuthError(
            f"/p2p/ requests must be signed ({HEADER_TIME}, {HEADER_BODY}, {HEADER_SIG})"
        )
    to = headers.get(HEADER_TO, "").lower()
    if len(url) > 256 or len(ts) > 16 or len(bh) != 66 or len(sig) > 140 or len(to) > 42:
        raise AuthError("oversized or malformed signature headers")
    if not (ts.isascii() and ts.isdigit()):
        raise AuthError(f"{HEADER_TIME} must be unix milliseconds")
    if _REQUEST_SIG.fullmatch(sig) is None:  # (one spelling: the replay cache keys by it)
        raise AuthError(f"{HEADER_SIG} must be 0x and r, s, v (27 or 28) in 130 hex digits")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if abs(now - int(ts)) > MAX_SKEW_MS:
        raise AuthError(f"{HEADER_TIME} is more than {MAX_SKEW_MS // 1000} s from ours")
    node_id, key = recover_key(request_digest(method, path_qs, int(ts), bh, url, to), sig)
    return SignedRequest(node_id, url, sig.lower(), bh.lower(), key=key, to=to, time_ms=int(ts))


def verify_answer(request_sig: str, status: int, body: bytes, headers: dict[str, str]) -> str:
    """The id that signed an answer, after checking the body against its signed hash."""
    bh, sig = headers.get(HEADER_BODY, ""), headers.get(HEADER_SIG, "")
    if not bh or not sig or len(sig) > 140:
        raise AuthError("the answer is not signed")
    if bh.lower() != body_hash(body):
        raise AuthError("the answer's body does not match its signed hash")
    return recover_key(answer_digest(request_sig, status, bh), sig)[0]


def recover_key(digest: bytes, sig: str) -> tuple[str, bytes]:
    """The id that signed ``digest`` and its public key (33 bytes, compressed), from one
    recovery; ``AuthError`` for what the contract would reject too (``signature_parts``:
    length, v, a high or zero s, r out of range) or a signature that recovers no key.
    (It recovered the key twice, and a stream's acceptor a third time for the id: gossip28.)"""
    try:
        raw = bytes.fromhex(sig.removeprefix("0x"))
        v = signature_parts(raw)[2]
        pub = coincurve.PublicKey.from_signature_and_message(
            raw[:64] + bytes([v]), digest, hasher=None
        )
    except (ValueError, SignatureError) as e:
        raise AuthError(f"bad signature: {e}") from None
    except Exception as e:  # coincurve raises a bare Exception on unrecoverable points
        raise AuthError(f"bad signature: signature does not recover: {e}") from None
    return point_address(pub.format(compressed=False)[1:]), pub.format()
