"""A synchronous client for a node's HTTP API (PRODUCT.md section 3), as a wallet uses it.

Every answer the node gives is parsed into typed values (``sdex.answers``), so the CLI never
digs in raw JSON, and every failure becomes one of the three errors ``sdex.answers`` lists
(``NodeApiError``, ``NodeUnreachableError``, ``NodeProtocolError``), re-exported here.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
import urllib3

from sdex import jsonio
from sdex.answers import (
    FillPage,
    ListingTooLong,
    MatchReport,
    NodeApiError,
    NodeLateError,
    NodeProtocolError,
    NodeUnreachableError,
    Orderbook,
    OrderConfig,
    OrderRecord,
    Page,
    PostedOrder,
    json_object,
    shape,
)
from sdex.chain.deadline import read_body, resolve_timeout_in, session, within
from sdex.clientwalk import MAX_PAGES, chain_status_of, walk, within_page
from sdex.errors import FieldError, JsonLimitError, SdexError
from sdex.model import FillEvent
from sdex.order import SignedOrder

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIMEOUT_ENV",
    "TIME_IN_FORCE",
    "FillPage",
    "ListingTooLong",
    "MatchReport",
    "NodeApiError",
    "NodeClient",
    "NodeLateError",
    "NodeProtocolError",
    "NodeUnreachableError",
    "OrderConfig",
    "OrderRecord",
    "Orderbook",
    "Page",
    "PostedOrder",
    "describe_request_error",
    "walk",
]

DEFAULT_TIMEOUT = 10.0
"""Seconds each call to a node may take as a whole (its lookup, connection and answer), unless
``$SDEX_WALLET_TIMEOUT`` says otherwise. A node answers an order within 9.5 s of its
``POST``'s arrival (``sdex.node.commitwait``): under this."""
TIMEOUT_ENV = "SDEX_WALLET_TIMEOUT"
TIMEOUT_RANGE = (1.0, 600.0)


class TimeoutSettingError(SdexError, ValueError):
    """``$SDEX_WALLET_TIMEOUT`` is not seconds in ``TIMEOUT_RANGE``."""


def default_timeout() -> float:
    """``DEFAULT_TIMEOUT``, or ``$SDEX_WALLET_TIMEOUT`` (seconds, 1 to 600) when it is set: a
    wallet on a slow link may wait longer; one that would rather hear sooner, shorter (below
    the node's 9.5 s, an order's answer may come after the wallet gave up: it reads it back)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    low, high = TIMEOUT_RANGE
    if not low <= value <= high:  # (nan and inf too)
        raise TimeoutSettingError(
            f"${TIMEOUT_ENV} must be seconds from {low:g} to {high:g}, not {raw[:40]!r}"
        )
    return value


MAX_ANSWER = 16 * 1024 * 1024
"""Largest answer read from a node (a page of 1,000 orders is under 1 MB)."""
MAX_DEPTH = 32
"""Node answers are shallow (an orderbook page's record's order is 5 deep)."""
TIME_IN_FORCE = ("gtc", "ioc", "fok")


class NodeClient:
    """Talks to one node. ``base_url`` like ``http://127.0.0.1:8001`` (scheme optional)."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        """``timeout``: seconds for each call as a whole (``default_timeout()`` when None)."""
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.timeout = default_timeout() if timeout is None else timeout
        self._session = session()
        """Each answer read whole (status line, headers, body) by one deadline (``within``):
        ``requests`` bounds each read only (review67: a node sending a header byte every
        0.2 s held a call with a 1 s timeout as long as it cared to)."""
        self.chain_status = ""
        """The last listing page's ``chainStatus`` (``unreachable``, ``behind``, ...): its
        statuses are as the node last read the chain; empty when its view was current."""

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- endpoints ---------------------------------------------------------------------
    def order_config(self) -> OrderConfig:
        """The node's ``order_config``; ``NodeProtocolError`` naming the mistake when the URL
        is a chain's JSON-RPC endpoint (``_request``: Hardhat answers any GET with JSON-RPC)."""
        try:
            obj = self._request("GET", "/v1/order_config")[1]
        except NodeApiError as e:  # (user27: a URL with a path, ".../v1", read "Not Found")
            if e.status != 404:
                raise
            raise NodeProtocolError(
                f"{self.base_url} has no /v1/order_config (HTTP 404): not an SDEX node's URL? "
                "--node takes the URL `sdex node` prints (listening on ...), without a path "
                "such as /v1"
            ) from None
        return OrderConfig.from_json(obj)

    def post_order(self, signed: SignedOrder, time_in_force: str | None = None) -> PostedOrder:
        """Submit a signed order; ``time_in_force`` is one of ``gtc``, ``ioc``, ``fok``."""
        body: dict[str, Any] = dict(signed.to_json())
        if time_in_force is not None:
            if time_in_force not in TIME_IN_FORCE:
                raise ValueError(f"time_in_force must be one of {TIME_IN_FORCE}")
            body["timeInForce"] = time_in_force
        status, obj = self._request("POST", "/v1/orders", json=body)
        return PostedOrder.from_json(status, obj)

    def get_order(self, order_hash: str, timeout: float | None = None) -> OrderRecord:
        """One record, also for orders no longer open; ``NodeApiError`` 404 if never accepted.
        ``timeout`` (seconds) shortens this one read below the client's own timeout."""
        path = f"/v1/orders/{order_hash}"
        return OrderRecord.from_json(self._request("GET", path, timeout=timeout)[1])

    def orders(
        self,
        maker: str | None = None,
        maker_token: str | None = None,
        taker_token: str | None = None,
        page: int = 1,
        per_page: int = 100,
        status: str | None = None,
        cursor: str | None = None,
    ) -> Page:
        """A page of records, filtered by maker, tokens and ``status`` (e.g. ``open``): page
        ``page``, or the page after the one whose ``next`` is ``cursor`` (same filters and
        ``per_page``). To read them all, ``all_orders``."""
        params: dict[str, str | int] = {"perPage": per_page}
        if cursor is None:
            params["page"] = page
        else:
            params["cursor"] = cursor
        filters = (
            ("maker", maker),
            ("makerToken", maker_token),
            ("takerToken", taker_token),
            ("status", status),
        )
        for k, v in filters:
            if v is not None:
                params[k] = v
        body = self._request("GET", "/v1/orders", params=params)[1]
        self.chain_status = chain_status_of(body)
        return within_page(Page.listing_json(body), per_page, "GET /v1/orders")

    def all_orders(
        self,
        maker: str | None = None,
        maker_token: str | None = None,
        taker_token: str | None = None,
        status: str | None = None,
        per_page: int = 100,
        max_pages: int = MAX_PAGES,
    ) -> Iterator[OrderRecord]:
        """Every record the filters match, in arrival order, walked by cursor (``walk``):
        each once, also while orders arrive or close (those arriving come at the end)."""

        def fetch(cursor: str | None) -> Page:
            return self.orders(
                maker, maker_token, taker_token, 1, per_page, status=status, cursor=cursor
            )

        for got in walk(fetch, max_pages, "GET /v1/orders"):
            yield from got.records

    def orderbook(
        self, base_token: str, quote_token: str, page: int = 1, per_page: int = 100
    ) -> Orderbook:
        params: dict[str, str | int] = {
            "baseToken": base_token,
            "quoteToken": quote_token,
            "page": page,
            "perPage": per_page,
        }
        obj = self._request("GET", "/v1/orderbook", params=params)[1]
        with shape("orderbook"):
            o = json_object(obj, "orderbook")
            self.chain_status = chain_status_of(o)
            return Orderbook(
                bids=Page.from_json(o["bids"]),
                asks=Page.from_json(o["asks"]),
                chain_status=self.chain_status,
            )

    def cancel_order(self, order_hash: str, signature: bytes) -> str:
        """Soft-cancel with the maker's signature over ``Domain.cancel_digest``; the new status."""
        obj = self._request(
            "POST", f"/v1/orders/{order_hash}/cancel", json={"signature": "0x" + signature.hex()}
        )[1]
        with shape("cancel answer"):
            return str(json_object(obj, "answer")["status"])

    def health(self) -> dict[str, Any]:
        """``GET /health``: the node's chain, operator and counters (settlements, gossip)."""
        obj = self._request("GET", "/health")[1]
        with shape("health"):
            return dict(json_object(obj, "health"))

    def fills(
        self,
        page: int = 1,
        per_page: int = 100,
        cursor: str | None = None,
        order_hash: str | None = None,
    ) -> FillPage:
        """A page of the fills the node knows, in the order it stored them (the chain's but
        for a reorg's fills, stored after: README "Walking a listing"), every field
        checked: page ``page``, or the page after the one whose ``next`` is ``cursor``; only
        one order's fills (as maker or taker) with ``order_hash``."""
        params: dict[str, str | int] = {"perPage": per_page}
        if order_hash is not None:
            params["orderHash"] = order_hash
        if cursor is None:
            params["page"] = page
        else:
            params["cursor"] = cursor
        body = self._request("GET", "/v1/fills", params=params)[1]
        self.chain_status = chain_status_of(body)
        return within_page(FillPage.from_json(body), per_page, "GET /v1/fills")

    def all_fills(
        self,
        per_page: int = 100,
        limit: int = 1_000_000,
        max_pages: int = MAX_PAGES,
        order_hash: str | None = None,
    ) -> Iterator[FillEvent]:
        """Every fill (at most ``limit``; only one order's, as maker or taker, with
        ``order_hash``), in the order stored, walked by cursor (``walk``)."""
        if limit <= 0:
            return
        seen = 0

        def fetch(cursor: str | None) -> FillPage:
            return self.fills(1, per_page, cursor, order_hash)

        for got in walk(fetch, max_pages, "GET /v1/fills"):
            taken = got.records[: limit - seen]
            yield from taken
            seen += len(taken)
            if seen >= limit:
                return

    # -- transport ---------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
        timeout: float | None = None,
    ) -> tuple[int, object]:
        """One request; a GET throttled (429: a listing past the node's budget of records a
        client lists, ``sdex.node.listings``) is asked again after its ``Retry-After``, for as
        long as ``timeout`` allows from the first try (a POST is never sent twice). A
        ``timeout`` given here is capped by the client's own."""
        limit = self.timeout if timeout is None else min(self.timeout, timeout)
        end = time.monotonic() + limit
        left = limit
        while True:
            try:
                return self._request_once(method, path, json, params, left)
            except NodeApiError as e:
                wait = e.retry_after
                if e.status != 429 or method != "GET" or wait is None:
                    raise
                if time.monotonic() + wait > end:
                    raise
                time.sleep(wait)
                left = max(end - time.monotonic(), 0.001)

    def _request_once(
        self,
        method: str,
        path: str,
        json: object,
        params: Mapping[str, str | int] | None,
        timeout: float,
    ) -> tuple[int, object]:
        url = self.base_url + path
        bound = f"{round(timeout, 2):g}s"
        late = NodeLateError(
            f"the node at {self.base_url} did not answer {method} {path} within {bound}"
        )
        deadline = time.monotonic() + timeout
        try:
            with (
                within(deadline),
                self._session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    timeout=timeout,
                    stream=True,
                    allow_redirects=False,  # (``_redirected``)
                ) as resp,
            ):
                raw = read_body(resp, deadline, MAX_ANSWER)
        except (requests.Timeout, urllib3.exceptions.ReadTimeoutError) as e:
            if unresolved := resolve_timeout_in(e):  # (wallet74: it hung past any deadline)
                raise NodeUnreachableError(
                    f"cannot reach the node at {self.base_url}: {unresolved} within {bound}"
                ) from e
            if isinstance(e, requests.ConnectTimeout):  # (nothing sent: wallet78)
                raise NodeUnreachableError(
                    f"cannot reach the node at {self.base_url}: it did not accept a "
                    f"connection within {bound}; nothing was sent"
                ) from e
            raise late from e
        except urllib3.exceptions.HTTPError as e:  # (the body's own read: review67)
            raise NodeLateError(
                f"the node at {self.base_url} broke off its answer to {method} {path}: "
                f"{type(e).__name__}"
            ) from e
        except requests.RequestException as e:
            if time.monotonic() >= deadline:  # (its send cut there: "Connection aborted")
                raise late from e
            said = describe_request_error(e)
            nobody = "Connection refused" in said  # (nothing listens there: the next step)
            raise NodeUnreachableError(
                f"cannot reach the node at {self.base_url}: {said}"
                + ("; is `sdex node` running on that port?" if nobody else "")
            ) from e
        if raw is None:
            raise late
        # Bounded like every answer from a peer: size (read above), depth, UTF-8, JSON
        try:
            body: object = jsonio.loads(raw, max_bytes=MAX_ANSWER, max_depth=MAX_DEPTH, floats=True)
        except JsonLimitError as e:
            if e.too_large:
                raise NodeProtocolError(
                    f"{method} {path} answered more than {MAX_ANSWER} bytes"
                ) from None
            body = None
        if 300 <= resp.status_code < 400:
            raise self._redirected(method, path, resp)
        if resp.status_code == 404 and body is None and self._speaks_json_rpc(deadline):
            raise self._a_chain()  # (anvil answers every path but its root so: anvil64)
        if resp.status_code >= 400:
            raise _api_error(resp, body, raw)
        if body is None:
            raise NodeProtocolError(
                f"{method} {path} answered HTTP {resp.status_code} without a JSON body"
            )
        if isinstance(body, dict) and "jsonrpc" in body:  # (Hardhat answers any GET so; every
            # read says it, the audit's too: it read "orders page lacks 'records'", user29)
            raise self._a_chain()
        return resp.status_code, body

    def _redirected(self, method: str, path: str, resp: requests.Response) -> NodeProtocolError:
        """A redirect is never followed: a node that answers one would have the wallet send
        its signed order or cancel, or trust an answer, from a host the user did not name
        (another address or scheme, or round in a loop: wallet69, ``requests`` followed 30)."""
        where = resp.headers.get("Location", "")
        shown = f" to {where[:120] + ('...' if len(where) > 120 else '')!r}" if where else ""
        return NodeProtocolError(
            f"{method} {path} was answered HTTP {resp.status_code}, a redirect{shown}: "
            f"not followed (sdex talks only to the node it is given, {self.base_url}); "
            "if you trust where it points, give that URL as --node"
        )

    def _a_chain(self) -> NodeProtocolError:
        return NodeProtocolError(
            f"{self.base_url} is a chain's JSON-RPC endpoint, not an SDEX node: --node "
            "takes a node's URL, the one `sdex node` prints (listening on ...)"
        )

    def _speaks_json_rpc(self, deadline: float) -> bool:
        """Whether the URL answers a JSON-RPC call (``jsonio.CHAIN_PROBE``) as a chain does,
        by ``deadline`` (at least a second), read as any answer (``MAX_ANSWER``, ``MAX_DEPTH``).
        anvil64: a chain's (anvil's) URL given as ``--node`` read "has no /v1/order_config",
        the audit's "404 Not Found"."""
        timeout = max(deadline - time.monotonic(), 1.0)
        end = time.monotonic() + timeout  # (all of it: review67, a trickle held it)
        try:
            with (
                within(end),
                self._session.post(
                    self.base_url,
                    json=jsonio.CHAIN_PROBE,
                    timeout=timeout,
                    stream=True,
                    allow_redirects=False,  # (its answer is the URL's own or none)
                ) as resp,
            ):
                raw = read_body(resp, end, MAX_ANSWER)
            body = (
                None
                if raw is None
                else jsonio.loads(raw, max_bytes=MAX_ANSWER, max_depth=MAX_DEPTH)
            )
        except (requests.RequestException, urllib3.exceptions.HTTPError, JsonLimitError):
            return False  # (a body broken off, review67: urllib3's error came out)
        return isinstance(body, dict) and body.get("jsonrpc") == "2.0"


def describe_request_error(e: requests.RequestException) -> str:
    """The useful part of a transport error (``[Errno 111] Connection refused``), without
    urllib3's connection-pool wrapping."""
    errno = re.search(r"\[Errno -?\d+\][^'\")]*", str(e))
    return errno.group(0).strip() if errno else type(e).__name__


def _api_error(resp: requests.Response, body: object, raw: bytes) -> NodeApiError:
    """The typed error for a 4xx/5xx answer; tolerant of bodies that are not SRA-shaped."""
    if not isinstance(body, Mapping) or "reason" not in body:
        text = raw[:400].decode("utf-8", "replace").strip()[:200]
        reason = f"{resp.status_code} {resp.reason or 'error'}" + (f": {text}" if text else "")
        return NodeApiError(resp.status_code, reason, body=body if body is not None else text)
    code = body.get("code")
    raw_errors = body.get("validationErrors") or []
    errors = [
        FieldError(
            field=str(e.get("field", "")),
            code=int(e["code"]) if isinstance(e.get("code"), int) else 0,
            reason=str(e.get("reason", "")),
        )
        for e in (raw_errors if isinstance(raw_errors, list) else [])
        if isinstance(e, Mapping)
    ]
    rejection = body.get("rejection")
    wait = resp.headers.get("Retry-After", "")
    return NodeApiError(
        status=resp.status_code,
        reason=str(body["reason"]),
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        validation_errors=errors,
        rejection=str(rejection) if rejection else None,
        body=body,
        retry_after=float(wait) if wait.isascii() and wait.isdigit() and len(wait) <= 2 else None,
    )
