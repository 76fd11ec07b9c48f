"""A plain JSON-RPC client over HTTP keep-alive.

web3.py's provider stack adds several milliseconds a call; on the settlement path that is
most of a local chain's latency, so the hot calls go through this small client instead.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

import requests
import urllib3

from sdex import jsonio
from sdex.chain.deadline import read_body, session, within
from sdex.chain.lean import LeanPost
from sdex.errors import ContractRevert, JsonLimitError, RpcError, RpcTimeout, shown_data
from sdex.redirects import REDIRECTS

MAX_RESPONSE = 32 * 1024 * 1024
"""Largest JSON-RPC answer read (a batch of receipts or logs can be large, not unbounded)."""
MAX_DEPTH = 32
"""JSON-RPC answers are shallow (a receipt's logs' topics are 4 deep)."""
IDLE_REUSE = 3.0
"""Seconds a kept-alive connection may sit unused and still be reused. Node's HTTP server
(Hardhat) closes one idle for 5 s: a request written as that close crosses it is reset
("Connection reset by peer"), its fate unknown; an older connection is dropped instead."""


class Rpc:
    """Synchronous JSON-RPC over one keep-alive HTTP session."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._session = session()
        self._lean = LeanPost(url) if LeanPost.serves(url) else None
        """Plain http with no proxy: ``http.client`` (``sdex.chain.lean``), not ``requests``."""
        self._ids = itertools.count(1)
        self._used = time.monotonic()

    def call(self, method: str, *params: Any, timeout: float | None = None) -> Any:
        """One request; raises ``ContractRevert`` for reverts, ``RpcError`` for other errors.
        ``timeout``: seconds the whole call may take instead of the client's (``RpcTimeout``
        when they pass: the request may have been sent, its fate unknown)."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        reply = self._post(body, timeout)
        if not isinstance(reply, dict):
            raise RpcError(0, f"{self.url} answered a call with {type(reply).__name__}", None)
        return _result(reply)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Many requests in one HTTP round trip; results in request order.

        Results that are errors come back as exception objects, not raised, so one bad
        call does not hide the others. (Batches are not ordered on the server: never use
        them for transactions of one sender.)
        """
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        return batch_results(self.url, ids, self._post(batch_body(ids, calls)))

    def _post(self, body: object, timeout: float | None = None) -> Any:
        """POST ``body``; the answer parsed with size and depth bounds (``sdex.jsonio``).

        The whole call (connect, headers, body) ends by one deadline, ``timeout`` or else
        the client's: ``RpcTimeout`` past it (``sdex.chain.deadline``)."""
        total = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + total
        wait = (min(self.timeout, total), total)
        if self._lean is not None:  # (plain http, no proxy)
            raw = self._lean.post(
                jsonio.dumps_bytes(body), *wait, deadline, MAX_RESPONSE, IDLE_REUSE
            )
        else:
            raw = self._post_requests(body, wait, deadline)
        if raw is None:
            raise RpcTimeout(self.url, total)
        return self._parse(raw)

    def _post_requests(
        self, body: object, wait: tuple[float, float], deadline: float
    ) -> bytes | None:
        """``_post`` through ``requests``: the answer's bytes, or None past ``deadline``."""
        if time.monotonic() - self._used > IDLE_REUSE:
            self._session.close()  # (its pools empty; the next request opens a connection)
        try:
            with (
                within(deadline),
                self._session.post(
                    self.url,
                    json=body,
                    timeout=wait,
                    stream=True,
                    allow_redirects=False,  # (``not_followed``)
                ) as resp,
            ):
                if resp.status_code in REDIRECTS:
                    raise not_followed(self.url, resp.status_code, resp.headers.get("Location"))
                resp.raise_for_status()
                raw = read_body(resp, deadline, MAX_RESPONSE)
        except (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError):
            raw = None
        except urllib3.exceptions.HTTPError as e:  # (the body's own read: a broken chunk...)
            raise requests.ConnectionError(f"{self.url}: {e}") from e
        finally:
            self._used = time.monotonic()
        if raw is None:
            self._session.close()  # (never reuse the connection of an unfinished answer)
        return raw

    def _parse(self, raw: bytes) -> Any:
        try:
            return jsonio.loads(raw, max_bytes=MAX_RESPONSE, max_depth=MAX_DEPTH, floats=True)
        except JsonLimitError as e:
            raise RpcError(0, f"{self.url} answered with bad JSON: {e.reason}", None) from None

    def close(self) -> None:
        self._session.close()
        if self._lean is not None:
            self._lean.close()


def not_followed(url: str, status: int, where: str | None) -> RpcError:
    """A chain endpoint's redirect, refused (wallet74): ``requests`` followed 30 of them and
    aiohttp 10, so a hostile or misconfigured RPC URL had the node (or the wallet, the audit)
    send its calls, signed transactions and all, to whatever host ``Location`` named, and take
    that host's answers as the chain's. An RPC URL is the endpoint itself: give the final one."""
    shown = f" to {where[:120] + ('...' if len(where) > 120 else '')!r}" if where else ""
    return RpcError(
        0, f"{url} answered HTTP {status}, a redirect{shown}: not followed (give that URL)", None
    )


def batch_body(ids: list[int], calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """The JSON-RPC batch of ``calls`` under ``ids``."""
    return [
        {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
        for i, (m, p) in zip(ids, calls, strict=True)
    ]


def batch_results(url: str, ids: list[int], reply: object) -> list[Any]:
    """A batch's answers in the order of ``ids``: results, or the error of each as an
    exception object (not raised). A reply that is not a list of objects is an error."""
    if not isinstance(reply, list) or not all(isinstance(x, dict) for x in reply):
        raise RpcError(0, f"{url} answered a batch with something else", None)
    # (an id that is a list or an object names no request: unhashable, it raised TypeError)
    by_id = {i: item for item in reply if not isinstance(i := item.get("id"), list | dict)}
    out: list[Any] = []
    for i in ids:
        try:
            if i not in by_id:
                raise RpcError(0, f"{url} left request {i} of a batch unanswered", None)
            out.append(_result(by_id[i]))
        except (RpcError, ContractRevert) as e:
            out.append(e)
    return out


def _result(reply: dict[str, Any]) -> Any:
    if "error" not in reply:
        if "result" not in reply:
            raise RpcError(0, "a JSON-RPC answer with neither result nor error", None)
        return reply["result"]
    err = reply["error"]
    if not isinstance(err, dict):
        raise RpcError(0, f"a JSON-RPC error that is not an object: {str(err)[:200]}", None)
    data = revert_data(err)
    if data is not None:
        raise ContractRevert(data, _revert_message(err, data))
    code = err.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else 0
    raise RpcError(code, str(err.get("message", ""))[:1000], err.get("data"))


def revert_data(err: dict[str, Any]) -> bytes | None:
    """Revert bytes from an error object, in the shapes Hardhat, anvil and geth use."""
    data = err.get("data")
    if isinstance(data, dict):
        data = data.get("data", data.get("result"))
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    message = str(err.get("message", ""))
    if "revert" in message.lower():
        return b""
    return None


def _revert_message(err: dict[str, Any], data: bytes) -> str:
    """The endpoint's message (its first 1000 characters, as ``RpcError``'s) and the revert
    data (``shown_data``: bounded)."""
    return f"{str(err.get('message', 'execution reverted'))[:1000]} (data {shown_data(data)})"


_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}")


def quantity(raw: object) -> int:
    """A JSON-RPC quantity (``0x``-hex, at most 256 bits), or ValueError: a chain's answer
    of another type (a number, a list: a broken or hostile endpoint) is refused as one that
    is not hex, never a TypeError out of ``int(raw, 16)``."""
    if isinstance(raw, str) and _QUANTITY.fullmatch(raw):
        return int(raw, 16)
    raise ValueError(f"not a JSON-RPC quantity: {raw!r}"[:200])
