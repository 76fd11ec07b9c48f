"""What answered a hello at a URL that is not an SDEX node (ux37): a ``--peer`` URL the
operator gave (say the chain's JSON-RPC URL) is worth one clear warning, not a debug line at
each dial. Every SDEX node signs its 2xx answers and answers errors with the SRA error body."""

from __future__ import annotations


def sdex_error(body: object) -> bool:
    """``body`` is shaped like an SDEX node's error answer (``{"code": int, "reason": str}``)."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("code"), int)
        and isinstance(body.get("reason"), str)
    )


def what_answered(status: int, body: object, json_rpc: bool = False) -> str:
    """What answered ``POST /p2p/hello``, for a warning (a few words, nothing of the peer's
    text but the fact that it spoke JSON-RPC, there or, ``json_rpc``, at its URL)."""
    if json_rpc or (isinstance(body, dict) and "jsonrpc" in body):
        return (
            f"it answered POST /p2p/hello like a JSON-RPC endpoint (HTTP {status}): "
            "a chain's RPC URL? Give an SDEX node's URL (its --port)"
        )
    signed = "" if status >= 300 else ", unsigned"
    return f"it did not answer POST /p2p/hello as an SDEX node does (HTTP {status}{signed})"
