"""The signing side of ``/p2p/``: one request to a peer, signed, and its answer verified.

Answers are hostile until bounded: at most ``max_bytes`` are read, the JSON goes through
``sdex.jsonio`` (size and depth before parsing), and the answer's signature must name the
key we expect at that URL (or, for a first ``hello``, tells us whose it is).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import yarl
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.tracing import Trace

from sdex import jsonio
from sdex.chain.arpc import PEER_LOOKUPS, BoundedResolver
from sdex.chain.deadline import LookupsFull, resolve_timeout_in
from sdex.errors import JsonLimitError
from sdex.gossip.identity import HEADER_SIG, AuthError, NodeKey, started_at, verify_answer
from sdex.wsredirects import refuse_ws_redirects

MAX_ANSWER = 8 * 1024 * 1024
"""Largest answer read from a peer (a snapshot page of 1,000 orders is ~1 MB)."""
ANSWER_ROOM = MAX_ANSWER - 1024
"""What the lists of a fetch or snapshot answer may take (its keys and cursor: the rest):
filled by bytes (``payload.fits``), never encoded whole and then found too large. A peer
naming ``MAX_HASHES`` large orders costs one answer's bytes, and gets the rest by asking
again (anti-entropy's next round; the next snapshot page from the cursor)."""
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    signer: str | None
    """The id that signed the answer (None for an unsigned error answer: one refused before
    its route ran, or anyone's on the path)."""
    body: Any
    address: str = ""
    """The IP address the answer came from (the connection's peer; "": not known)."""


class PeerCallError(Exception):
    """A peer call that failed: unreachable, timed out, unsigned, oversized or malformed."""


class NotLookedUp(PeerCallError):
    """A call not made: the peer's host name was not looked up, this node's lookups of
    peers' names all in flight (``deadline.LookupsFull``): no failure of that peer's."""


class NotAPeer(PeerCallError):
    """A 2xx answer without a valid SDEX signature (no SDEX node answers so): ``status`` and
    its body (parsed JSON, bounded; None if it was not JSON), for ``sdex.gossip.notpeer``."""

    def __init__(self, message: str, status: int, body: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class PeerClient:
    """Signed requests from one node (``key``, reachable at ``me``)."""

    def __init__(self, session: aiohttp.ClientSession, key: NodeKey, me: str) -> None:
        self.session = session
        self.key = key
        self.me = me

    async def call(
        self,
        method: str,
        url: str,
        path: str,
        body: object = None,
        params: dict[str, str] | None = None,
        max_bytes: int = MAX_ANSWER,
        timeout: float | None = None,
        to: str = "",
    ) -> Answer:
        """One signed request to the node with id ``to`` ("" only for a hello to a URL whose
        id is not known yet); a 2xx answer must be signed, bounded and valid JSON."""
        data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        try:  # (a URL a peer introduced: yarl fails on some with IndexError, review31)
            target = yarl.URL(
                url + path + ("?" + urlencode(params) if params else ""), encoded=True
            )
        except (ValueError, IndexError) as e:
            raise PeerCallError(f"{method} {url[:200]}{path}: not a URL: {e}") from None
        for again in (True, False):  # (again: once, signed anew after a start we were told)
            headers = self.key.request_headers(method, target.raw_path_qs, data, self.me, to, url)
            if data:
                headers["Content-Type"] = "application/json"
            # (a redirect is never followed: it would take the signed request, or make this
            # node ask, wherever the peer says, another host or scheme or round in a loop:
            # wallet69)
            kwargs: dict[str, Any] = {
                "data": data or None,
                "headers": headers,
                "allow_redirects": False,
            }
            if timeout is not None:
                kwargs["timeout"] = aiohttp.ClientTimeout(total=timeout)
            try:
                async with self.session.request(method, target, **kwargs) as r:
                    address = _address_of(r)
                    raw = await _read_capped(r, max_bytes)
                    status, answer_headers = r.status, dict(r.headers)
            except (aiohttp.ClientError, TimeoutError) as e:
                if isinstance(unlooked := resolve_timeout_in(e), LookupsFull):
                    raise NotLookedUp(f"{method} {url}{path}: {unlooked}") from None
                raise PeerCallError(f"{method} {url}{path}: {type(e).__name__} {e}") from None
            # a 401 to a request signed before the node started, which says when: signed at
            # that time, it is sent once more now (review97c: a clock behind the node's had
            # each refused till it passed that start; refused before any effect, it is safe)
            started = started_at(answer_headers) if status == 401 else None
            if not (
                again and started is not None and self.key.sign_after(to.lower() or url, started)
            ):
                break
        if status >= 300:
            try:
                err = jsonio.loads(raw, max_bytes=64 * 1024, max_depth=4, floats=True)
            except JsonLimitError:
                err = None
            try:  # (a route's refusal is signed: a 4xx then is the peer's word, push91)
                signer = verify_answer(headers[HEADER_SIG], status, raw, answer_headers)
            except AuthError:
                signer = None
            return Answer(status, signer, err)
        try:
            signer = verify_answer(headers[HEADER_SIG], status, raw, answer_headers)
        except AuthError as e:  # (no SDEX node: what it said, bounded, for a warning)
            try:
                said = jsonio.loads(raw[: 64 * 1024], max_bytes=64 * 1024, max_depth=4, floats=True)
            except JsonLimitError:
                said = None
            raise NotAPeer(f"{method} {url}{path}: bad answer: {e}", status, said) from None
        try:
            parsed = jsonio.loads(raw, max_bytes=max_bytes, max_depth=MAX_DEPTH)
        except JsonLimitError as e:
            raise PeerCallError(f"{method} {url}{path}: bad answer: {e}") from None
        return Answer(status, signer, parsed, address)

    async def speaks_json_rpc(self, url: str, timeout: float) -> bool:
        """Whether ``url`` answers a JSON-RPC call (``jsonio.CHAIN_PROBE``) as a chain does,
        within ``timeout`` and 64 KiB: asked of a ``--peer`` URL that answered a hello 404
        without a JSON body (anvil64: anvil's URL was warned of as "not an SDEX node" alone,
        where Hardhat's, answering JSON-RPC at any path, was named a chain's RPC URL)."""
        limit = 64 * 1024
        try:
            async with self.session.post(
                url,
                json=jsonio.CHAIN_PROBE,
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,  # (the URL's own answer, or none: ``call``)
            ) as r:
                raw = await _read_capped(r, limit)
            said = jsonio.loads(raw, max_bytes=limit, max_depth=4, floats=True)
        except (aiohttp.ClientError, TimeoutError, PeerCallError, JsonLimitError, ValueError):
            return False
        return isinstance(said, dict) and said.get("jsonrpc") == "2.0"


ADDRESS = "sdex_address"
"""The attribute ``AddressedConnector`` sets on each connection's protocol: the IP address
it reached."""


class AddressedConnector(aiohttp.TCPConnector):
    """A ``TCPConnector`` that notes on each new connection's protocol the IP address it
    reached (``ADDRESS``), read by ``_address_of`` once the transport is gone: a peer that
    answers with ``Connection: close`` has its connection closed as soon as the answer is
    read, its address with it (review31: its URL's free name then counted instead)."""

    async def _create_connection(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> ResponseHandler:
        proto = await super()._create_connection(req, traces, timeout)
        transport = proto.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        if isinstance(peer, tuple) and peer:
            setattr(proto, ADDRESS, str(peer[0]))
        return proto


def peer_session(timeout: float) -> aiohttp.ClientSession:
    """The session the node calls its peers with (``AddressedConnector``; a stream's upgrade
    never follows a redirect: ``sdex.wsredirects``). Names in peers' URLs (given by peers)
    are looked up in a pool of their own (``PEER_LOOKUPS``: bounded in number, each in a
    thread of its own), never in the loop's default executor (reads77: a peer's name that
    never resolved held one of its threads, for the store's reads, for good)."""
    return aiohttp.ClientSession(
        connector=AddressedConnector(resolver=BoundedResolver(PEER_LOOKUPS)),
        timeout=aiohttp.ClientTimeout(total=timeout),
        middlewares=(refuse_ws_redirects,),
    )


def _address_of(r: aiohttp.ClientResponse) -> str:
    """The IP address ``r``'s connection reached ("" if it is not known). (aiohttp hands a
    connection back to its pool as soon as a short answer is read, so ``r.connection`` is
    None by then, and closes one the server closes: the protocol, kept by the response,
    has the address ``AddressedConnector`` noted, or still the transport.)"""
    proto = getattr(r, "_protocol", None)
    noted = getattr(proto, ADDRESS, None)
    if isinstance(noted, str) and noted:
        return noted
    conn = r.connection
    transport = conn.transport if conn is not None else None
    if transport is None:
        transport = getattr(proto, "transport", None)
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if isinstance(peer, tuple) and peer else ""


async def _read_capped(r: aiohttp.ClientResponse, limit: int) -> bytes:
    if r.content_length is not None and r.content_length > limit:
        raise PeerCallError(f"answer of {r.content_length} bytes is over {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in r.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise PeerCallError(f"answer is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
