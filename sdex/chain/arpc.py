"""An asyncio JSON-RPC client on aiohttp: calls and batches, answers bounded by ``sdex.jsonio``.

The node's chain reads on hot paths (the watcher, the mirror's first reads of an account)
go through this client on the event loop; no worker threads, no ``requests``. Results and
errors are shaped exactly like ``sdex.chain.rpc.Rpc``'s (the same ``_result``), so callers
share decoders. Every HTTP round trip is counted (``requests``) and every JSON-RPC method
call in it too (``calls``): the node exposes both in ``/health``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import json
import re
import socket
import time
from collections import Counter
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.payload import BytesPayload

from sdex import jsonio
from sdex.chain import deadline, rpc
from sdex.chain.rpc import MAX_DEPTH, MAX_RESPONSE, _result, batch_body, batch_results
from sdex.errors import JsonLimitError, RpcError, RpcTimeout
from sdex.redirects import REDIRECTS

SEND_MAX_RESPONSE = 2 * 1024 * 1024
"""Largest answer the settlement's send client reads (``Node.send_rpc``): a send's hash, a
receipt (with the send, or asked after it), a transaction by hash, a pre-flight's
``eth_call``. A receipt of 64 matches with fees (384 logs) is 264,561 bytes on Hardhat, ~4.1
KB a match; the largest backlog batch the gas lets one transaction take there is 117
matches, ~484 KB (tests/test_sends31_bound.py): this bound holds them 7.9 and 4.3 times. A
larger answer is an error whose fate is unknown (``AnswerTooLarge``; its receipt is then
polled through the read client), read no further and never parsed on the event loop
(review30: 32 MB parsed there held intake and gossip 0.5-1 s a send; the largest answer
under this bound holds it ~50 ms: docs/BENCHMARKS.md, settle/sends31)."""

RESENDABLE = frozenset({"eth_sendRawTransaction", "eth_sendRawTransactionSync"})
"""The calls that change the chain and may still go twice: the same signed bytes (one hash,
one nonce: a copy the chain holds already is refused as known, never taken twice)."""
LARGE_PARAM = 4096
"""Characters of a call's one string parameter (a raw transaction's hex) from which its body
is written around the parameter's bytes (``encode_body``) instead of by ``json.dumps``."""
_READ = re.compile(
    r"eth_(get(?!Filter)\w+|call|estimateGas|chainId|blockNumber|gasPrice|feeHistory"
    r"|maxPriorityFeePerGas|syncing)|net_version|web3_clientVersion"
)
"""Reads that change nothing (``eth_getFilterChanges`` is no such read: it consumes what it
answers)."""


def encode_body(body: object) -> bytes:
    """``json.dumps(body).encode()``, the bytes aiohttp's ``json=`` sends. A call whose one
    parameter is a long string of ASCII letters and digits (a settlement's raw transaction in
    hex, ~250 KB for 110 matches) is written around that parameter's bytes: ``json.dumps``
    looks at it character by character to escape (~1-2 ms a send on this machine, anvil83),
    and such a string has nothing to escape; anything else goes through ``json.dumps``."""
    if type(body) is dict and list(body) == ["jsonrpc", "id", "method", "params"]:
        params = body["params"]
        if (
            type(params) is list
            and len(params) == 1
            and type(p := params[0]) is str
            and len(p) >= LARGE_PARAM
            and p.isascii()
        ):
            raw = p.encode("ascii")
            if raw.isalnum():  # (ASCII letters and digits: nothing json.dumps escapes)
                head = json.dumps({k: body[k] for k in ("jsonrpc", "id", "method")})
                return b"".join((head[:-1].encode(), b', "params": ["', raw, b'"]}'))
    return json.dumps(body).encode()


class AnswerTooLarge(RpcTimeout):
    """An answer larger than the client reads: not parsed. Handled as a timeout is (no
    answer in time): the request may have been served, its fate unknown."""

    def __init__(self, url: str, limit: int) -> None:
        RpcError.__init__(self, 0, f"{url} answered with more than {limit} bytes: not read")


def retry_safe(body: object) -> bool:
    """Whether ``body`` (a call or a batch) may be posted a second time: every call in it a
    read or a raw send of signed bytes (``RESENDABLE``)."""
    calls = body if isinstance(body, list) else [body]
    for c in calls:
        method = c.get("method") if isinstance(c, dict) else None
        if not isinstance(method, str):
            return False
        if method not in RESENDABLE and not _READ.fullmatch(method):
            return False
    return True


MAX_PEER_RESOLVING = 4
"""Lookups of names peers gave (their URLs, dialled by gossip) in flight at once, at most:
a pool of their own (``PEER_LOOKUPS``), apart from the chain's (``deadline.CHAIN``)."""

PEER_LOOKUPS = deadline.Lookups(MAX_PEER_RESOLVING, "peer")
"""The lookups of names peers gave: any peer may name a host whose resolver never answers,
as many as it likes; they fill this pool, never the chain client's (reads77: aiohttp's
default resolver ran them in the loop's default executor, unbounded in time)."""


class BoundedResolver(AbstractResolver):
    """aiohttp's name lookups through ``deadline.Lookups``, as the sync clients' are (wallet74):
    each name in a daemon thread of its own, calls for one name sharing one lookup, at most
    the pool's ``cap`` in flight (past them ``ResolveTimeout`` at once): ``lookups``, the
    chain's (``deadline.CHAIN``) unless told (peers' names: ``PEER_LOOKUPS``). aiohttp's
    own (``ThreadedResolver``) looked names up in the loop's default executor: a resolver that
    never answered held its threads past every call's timeout (the call gives up waiting, the
    thread goes on), so ``asyncio.to_thread`` work (the store's reads, soft cancels'
    signatures) queued behind them and ``asyncio.run``'s end waited for them (left75: the
    node did not exit until the system's resolver gave up). aiohttp asks no resolver for an
    IP literal."""

    def __init__(self, lookups: deadline.Lookups = deadline.CHAIN) -> None:
        self.lookups = lookups

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        done = self.lookups.lookup(host, port, family)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Any]] = loop.create_future()
        done.add_done_callback(lambda d: _hand_over(loop, d, answer))
        return [_address(host, info) for info in await answer]

    async def close(self) -> None:
        pass  # (a lookup in flight ends in its own thread; others may share it)


def _hand_over(
    loop: asyncio.AbstractEventLoop,
    done: concurrent.futures.Future[list[Any]],
    answer: asyncio.Future[list[Any]],
) -> None:
    """A lookup's outcome, from its thread, to ``answer`` on ``loop`` (if still waited for)."""

    def give() -> None:
        if answer.done():  # (the wait was cancelled: the call ended, or its session)
            return
        e = done.exception()
        if e is None:
            answer.set_result(done.result())
        else:
            answer.set_exception(e)

    with contextlib.suppress(RuntimeError):  # (the loop closed meanwhile)
        loop.call_soon_threadsafe(give)


def _address(host: str, info: tuple[Any, ...]) -> ResolveResult:
    """One ``getaddrinfo`` answer as aiohttp's resolvers give it."""
    family, _, proto, _, address = info
    ip = address[0]
    if family == socket.AF_INET6 and len(address) > 3 and address[3]:  # (a link-local scope)
        ip = socket.getnameinfo(address, socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)[0]
    return {
        "hostname": host,
        "host": ip,
        "port": address[1],
        "family": family,
        "proto": proto,
        "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    }


class AsyncRpc:
    """JSON-RPC over one aiohttp session (keep-alive). Create and close it on one loop."""

    def __init__(
        self,
        url: str,
        timeout: float = 30.0,
        *,
        max_response: int = MAX_RESPONSE,
        connections: int = 8,
    ) -> None:
        self.url = url
        self.max_response = max_response
        """Largest answer read and parsed (``AnswerTooLarge`` past it)."""
        self.connections = connections
        """Connections open to the chain at most (requests past them wait for one)."""
        self.too_large = 0
        """Answers refused for their size."""
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self.requests = 0
        """HTTP round trips made."""
        self.calls: Counter[str] = Counter()
        """JSON-RPC calls made, by method (a batch of n counts n)."""
        self._open = 0  # requests in flight
        self._heard = 0.0  # (monotonic) the last answer, or the first request sent after none

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(
                    limit=self.connections,
                    keepalive_timeout=rpc.IDLE_REUSE,
                    resolver=BoundedResolver(),
                ),
            )
        return self._session

    async def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """One request; raises ``ContractRevert`` for reverts, ``RpcError`` for other errors
        and ``aiohttp.ClientError``/``OSError``/``TimeoutError`` when the chain is unreachable.
        ``timeout``: seconds the whole call may take instead of the client's (``RpcTimeout``
        when they pass: the request may have been sent, its fate unknown)."""
        self.calls[method] += 1
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        if timeout is None:
            reply = await self._post(body)
        else:
            try:
                async with asyncio.timeout(timeout):
                    reply = await self._post(body)
            except TimeoutError:
                raise RpcTimeout(self.url, timeout) from None
        if not isinstance(reply, dict):
            raise RpcError(0, f"{self.url} answered a call with {type(reply).__name__}", None)
        return _result(reply)

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Many requests in one HTTP round trip; results in request order, errors as
        exception objects (not raised), as ``Rpc.batch``."""
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        for m, _ in calls:
            self.calls[m] += 1
        return batch_results(self.url, ids, await self._post(batch_body(ids, calls)))

    async def _post(self, body: object) -> Any:
        try:
            return await self._post_once(body)
        except aiohttp.ServerDisconnectedError:
            # The connection closed before an answer: most often a kept-alive one the
            # server had closed while idle (Hardhat closes them after 5 s), the request
            # never read; but a server (or a proxy) may also have read it, served it and
            # closed without answering. So once more on a new connection only when a
            # second copy is harmless: reads, and raw sends of the same signed bytes (one
            # hash, one nonce: a copy the chain holds is refused as known). Anything else
            # (evm_mine, eth_getFilterChanges...) raises: its fate is unknown.
            if not retry_safe(body):
                raise
            return await self._post_once(body)

    def unanswered_for(self) -> float:
        """Seconds requests have been in flight with no answer to any of them (a hung chain:
        it took the connection and says nothing); 0 when none is in flight."""
        return time.monotonic() - self._heard if self._open else 0.0

    async def _post_once(self, body: object) -> Any:
        self.requests += 1
        limit = self.max_response
        if not self._open:
            self._heard = time.monotonic()
        self._open += 1
        try:
            return await self._exchange(body, limit)
        finally:
            self._open -= 1

    async def _exchange(self, body: object, limit: int) -> Any:
        # (the payload aiohttp's ``json=`` makes, its bytes written by ``encode_body``)
        data = BytesPayload(encode_body(body), content_type="application/json", encoding="utf-8")
        async with self._http().post(self.url, data=data, allow_redirects=False) as resp:
            self._heard = time.monotonic()
            if resp.status in REDIRECTS:
                raise rpc.not_followed(self.url, resp.status, resp.headers.get("Location"))
            if resp.status != 200:
                raise RpcError(0, f"{self.url} answered HTTP {resp.status}", None)
            if resp.content_length is not None and resp.content_length > limit:
                resp.close()  # (the connection dropped: never reused mid-answer)
                self.too_large += 1
                raise AnswerTooLarge(self.url, limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:  # stop reading, parse nothing
                    resp.close()
                    self.too_large += 1
                    raise AnswerTooLarge(self.url, limit)
            raw = b"".join(chunks)
        try:
            return jsonio.loads(raw, max_bytes=limit, max_depth=MAX_DEPTH, floats=True)
        except JsonLimitError as e:
            raise RpcError(0, f"{self.url} answered with bad JSON: {e.reason}", None) from None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
