"""``sdex audit``: the chain's record checked against the signed orders and the nodes.

Signed orders come from the chain itself (each settlement transaction's calldata:
``sdex.audit.calldata``), from order files and from the nodes.

Three stages, so tests can feed the middle one directly:

    collect (I/O: chain logs, receipts, state; node APIs; order files)  -> Facts
    checks  (pure: one function per rule, each returning discrepancies) -> CheckResult list
            (chain rules in ``checks``, node rules in ``nodechecks``, shared types in ``findings``)
    report  (a rich table or one JSON object; ok = no discrepancy)      -> AuditReport
"""

from __future__ import annotations

from collections.abc import Sequence

from sdex.audit.chainread import AuditSetupError, ChainReader
from sdex.audit.checks import CHECKS, expected_transfers, run_checks
from sdex.audit.collect import OrdersFileError, collect, load_orders
from sdex.audit.facts import (
    BookEntry,
    Cancel,
    ChainFacts,
    ClaimedFill,
    ClosedEntry,
    Facts,
    NodeFacts,
    OrderCopy,
    SaltCancel,
    Transfer,
)
from sdex.audit.findings import CheckResult, Discrepancy
from sdex.audit.report import AuditReport, NodeSummary
from sdex.deployment import Deployment

__all__ = [
    "CHECKS",
    "AuditReport",
    "AuditSetupError",
    "BookEntry",
    "Cancel",
    "ChainFacts",
    "ChainReader",
    "CheckResult",
    "ClaimedFill",
    "ClosedEntry",
    "Discrepancy",
    "Facts",
    "NodeFacts",
    "NodeSummary",
    "OrderCopy",
    "OrdersFileError",
    "SaltCancel",
    "Transfer",
    "audit_network",
    "collect",
    "expected_transfers",
    "load_orders",
    "run_checks",
]


def audit_network(
    deployment: Deployment,
    nodes: Sequence[str] = (),
    *,
    rpc: str | None = None,
    orders: Sequence[OrderCopy] = (),
    sync_timeout: float = 10.0,
    calldata: bool = True,
) -> AuditReport:
    """Audit the deployment's Exchange since its deployment block, with signed orders from
    the settlement transactions' calldata (unless not ``calldata``), from ``orders`` and from
    the ``nodes`` (URLs), whose books and fills are audited too."""
    facts = collect(
        deployment,
        nodes,
        rpc_url=rpc,
        orders=orders,
        sync_timeout=sync_timeout,
        calldata=calldata,
    )
    return AuditReport.of(facts)
