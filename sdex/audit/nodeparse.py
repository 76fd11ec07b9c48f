"""What the audit reads of a node's answers about its soft cancels (pure): the operator its
``/health`` names, the ``cancelledAtBlock``/``cancelledAtNonce`` of a record's ``metaData``,
and the chain reads those call for (``sdex.audit.collect`` does them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sdex.audit.facts import NodeFacts


def cancel_count(meta: dict[str, Any], key: str) -> int | None:
    """A ``metaData`` block number or nonce (a JSON int); None when absent, or not one."""
    v = meta.get(key)
    return v if type(v) is int and 0 <= v < 2**63 else None


def operator_of(health: dict[str, Any]) -> str | None:
    """The settlement sender a node's ``/health`` names (``operator``), or None."""
    op = health.get("operator")
    if not (isinstance(op, str) and len(op) == 42 and op[:2] == "0x"):
        return None
    return op.lower() if all(c in "0123456789abcdefABCDEF" for c in op[2:]) else None


def unnoted_cancels(nodes: Sequence[NodeFacts]) -> list[tuple[str, int]]:
    """(operator, block) of each node's soft cancel that names its block but no nonce."""
    return sorted(
        {
            (n.operator, c.cancel_block)
            for n in nodes
            if n.operator is not None
            for c in n.closed.values()
            if c.status == "cancelled" and c.cancel_block is not None and c.cancel_nonce is None
        }
    )
