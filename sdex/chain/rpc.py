"""A plain JSON-RPC client over HTTP keep-alive.

web3.py's provider stack adds several milliseconds a call; on the settlement path that is
most of a local chain's latency, so the hot calls go through this small client instead.
"""

from __future__ import annotations

import itertools
from typing import Any

import requests

from sdex.errors import ContractRevert, RpcError


class Rpc:
    """Synchronous JSON-RPC over one keep-alive HTTP session."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url
        self.timeout = timeout
        self._session = requests.Session()
        self._ids = itertools.count(1)

    def call(self, method: str, *params: Any) -> Any:
        """One request; raises ``ContractRevert`` for reverts, ``RpcError`` for other errors."""
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        resp = self._session.post(self.url, json=body, timeout=self.timeout)
        resp.raise_for_status()
        return _result(resp.json())

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Many requests in one HTTP round trip; results in request order.

        Results that are errors come back as exception objects, not raised, so one bad
        call does not hide the others. (Batches are not ordered on the server: never use
        them for transactions of one sender.)
        """
        if not calls:
            return []
        ids = [next(self._ids) for _ in calls]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        resp = self._session.post(self.url, json=body, timeout=self.timeout)
        resp.raise_for_status()
        by_id = {item["id"]: item for item in resp.json()}
        out: list[Any] = []
        for i in ids:
            try:
                out.append(_result(by_id[i]))
            except (RpcError, ContractRevert) as e:
                out.append(e)
        return out

    def close(self) -> None:
        self._session.close()


def _result(reply: dict[str, Any]) -> Any:
    if "error" not in reply:
        return reply["result"]
    err = reply["error"]
    data = revert_data(err)
    if data is not None:
        raise ContractRevert(data, _revert_message(err, data))
    raise RpcError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))


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
    return f"{err.get('message', 'execution reverted')} (data 0x{data.hex()})"
