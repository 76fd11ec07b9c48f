"""A synchronous client for a node's HTTP API (PRODUCT.md section 3), as a wallet uses it.

Every answer the node gives is parsed into typed values (``sdex.answers``), so the CLI never
digs in raw JSON, and every failure becomes one of the three errors ``sdex.answers`` lists
(``NodeApiError``, ``NodeUnreachableError``, ``NodeProtocolError``), re-exported here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests

from sdex import jsonio
from sdex.answers import (
    FillPage,
    MatchReport,
    NodeApiError,
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
from sdex.chain.deadline import read_body
from sdex.errors import FieldError, JsonLimitError
from sdex.model import FillEvent
from sdex.order import SignedOrder

__all__ = [
    "DEFAULT_TIMEOUT",
    "TIME_IN_FORCE",
    "FillPage",
    "MatchReport",
    "NodeApiError",
    "NodeClient",
    "NodeProtocolError",
    "NodeUnreachableError",
    "OrderConfig",
    "OrderRecord",
    "Orderbook",
    "Page",
    "PostedOrder",
    "describe_request_error",
]

DEFAULT_TIMEOUT = 10.0
MAX_ANSWER = 16 * 1024 * 1024
"""Largest answer read from a node (a page of 1,000 orders is under 1 MB)."""
MAX_DEPTH = 32
"""Node answers are shallow (an orderbook page's record's order is 5 deep)."""
TIME_IN_FORCE = ("gtc", "ioc", "fok")


class NodeClient:
    """Talks to one node. ``base_url`` like ``http://127.0.0.1:8001`` (scheme optional)."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        if "://" not in base_url:
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    # -- endpoints ---------------------------------------------------------------------
    def order_config(self) -> OrderConfig:
        """The node's ``order_config``; ``NodeProtocolError`` naming the mistake when the URL
        is a chain's JSON-RPC endpoint (Hardhat answers any GET with a JSON-RPC error)."""
        obj = self._request("GET", "/v1/order_config")[1]
        if isinstance(obj, dict) and "jsonrpc" in obj:
            raise NodeProtocolError(
                f"{self.base_url} is a chain's JSON-RPC endpoint, not an SDEX node: --node "
                "takes a node's URL, the one `sdex node` prints (listening on ...)"
            )
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

    def get_order(self, order_hash: str) -> OrderRecord:
        """One record, also for orders no longer open; ``NodeApiError`` 404 if never accepted."""
        return OrderRecord.from_json(self._request("GET", f"/v1/orders/{order_hash}")[1])

    def orders(
        self,
        maker: str | None = None,
        maker_token: str | None = None,
        taker_token: str | None = None,
        page: int = 1,
        per_page: int = 100,
        status: str | None = None,
    ) -> Page:
        """A page of records, filtered by maker, tokens and ``status`` (e.g. ``open``)."""
        params: dict[str, str | int] = {"page": page, "perPage": per_page}
        filters = (
            ("maker", maker),
            ("makerToken", maker_token),
            ("takerToken", taker_token),
            ("status", status),
        )
        for k, v in filters:
            if v is not None:
                params[k] = v
        return Page.from_json(self._request("GET", "/v1/orders", params=params)[1])

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
            return Orderbook(bids=Page.from_json(o["bids"]), asks=Page.from_json(o["asks"]))

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

    def fills(self, page: int = 1, per_page: int = 100) -> FillPage:
        """A page of the fills the node knows, oldest first, every field checked."""
        obj = self._request("GET", "/v1/fills", params={"page": page, "perPage": per_page})[1]
        return FillPage.from_json(obj)

    def all_fills(self, per_page: int = 100, limit: int = 1_000_000) -> Iterator[FillEvent]:
        """Every fill, page by page, until the node's ``total`` (at most ``limit``)."""
        seen, page = 0, 1
        while seen < limit:
            got = self.fills(page=page, per_page=per_page)
            yield from got.records[: limit - seen]
            seen += len(got.records)
            if not got.records or seen >= got.total:
                return
            page += 1

    # -- transport ---------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        json: object = None,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[int, object]:
        """One request; a GET throttled (429: a listing past the node's budget of records a
        client lists, ``sdex.node.listings``) is asked again after its ``Retry-After``, for as
        long as ``timeout`` allows from the first try (a POST is never sent twice)."""
        end = time.monotonic() + self.timeout
        while True:
            try:
                return self._request_once(method, path, json, params)
            except NodeApiError as e:
                wait = e.retry_after
                if e.status != 429 or method != "GET" or wait is None:
                    raise
                if time.monotonic() + wait > end:
                    raise
                time.sleep(wait)

    def _request_once(
        self,
        method: str,
        path: str,
        json: object,
        params: Mapping[str, str | int] | None,
    ) -> tuple[int, object]:
        url = self.base_url + path
        late = NodeUnreachableError(
            f"the node at {self.base_url} did not answer {method} {path} within {self.timeout:g}s"
        )
        deadline = time.monotonic() + self.timeout
        try:
            with self._session.request(
                method, url, json=json, params=params, timeout=self.timeout, stream=True
            ) as resp:
                raw = read_body(resp, deadline, MAX_ANSWER)
        except requests.Timeout as e:
            raise late from e
        except requests.RequestException as e:
            raise NodeUnreachableError(
                f"cannot reach the node at {self.base_url}: {describe_request_error(e)}"
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
        if resp.status_code >= 400:
            raise _api_error(resp, body, raw)
        if body is None:
            raise NodeProtocolError(
                f"{method} {path} answered HTTP {resp.status_code} without a JSON body"
            )
        return resp.status_code, body


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
