"""An asyncio JSON-RPC client on aiohttp: calls and batches, answers bounded by ``sdex.jsonio``.

The node's chain reads on hot paths (the watcher, the mirror's first reads of an account)
go through this client on the event loop; no worker threads, no ``requests``. Results and
errors are shaped exactly like ``sdex.chain.rpc.Rpc``'s (the same ``_result``), so callers
share decoders. Every HTTP round trip is counted (``requests``) and every JSON-RPC method
call in it too (``calls``): the node exposes both in ``/health``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import Any

import aiohttp

from sdex import jsonio
from sdex.chain import rpc
from sdex.chain.rpc import MAX_DEPTH, MAX_RESPONSE, _result, batch_body, batch_results
from sdex.errors import JsonLimitError, RpcError, RpcTimeout


class AsyncRpc:
    """JSON-RPC over one aiohttp session (keep-alive). Create and close it on one loop."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)
        self.requests = 0
        """HTTP round trips made."""
        self.calls: Counter[str] = Counter()
        """JSON-RPC calls made, by method (a batch of n counts n)."""

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=8, keepalive_timeout=rpc.IDLE_REUSE),
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
            # A kept-alive connection the server had closed while idle (Hardhat closes
            # them after 5 s): the request never reached it; once more on a new one.
            return await self._post_once(body)

    async def _post_once(self, body: object) -> Any:
        self.requests += 1
        async with self._http().post(self.url, json=body) as resp:
            if resp.status != 200:
                raise RpcError(0, f"{self.url} answered HTTP {resp.status}", None)
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(1 << 16):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_RESPONSE:  # stop reading: jsonio names the excess below
                    break
            raw = b"".join(chunks)
        try:
            return jsonio.loads(raw, max_bytes=MAX_RESPONSE, max_depth=MAX_DEPTH, floats=True)
        except JsonLimitError as e:
            raise RpcError(0, f"{self.url} answered with bad JSON: {e.reason}", None) from None

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
