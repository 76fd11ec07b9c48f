"""The audit's discrepancy list fits 80 columns piped, hashes whole (the last note's leftover:
each discrepancy was one line of its kind and every place, ~200 columns, and its detail
another line of up to ~300)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from sdex.audit.findings import CheckResult, Discrepancy
from sdex.audit.report import AuditReport

TX = "0x" + "ab" * 32
ORDER = "0x" + "cd" * 32
NODE = "http://127.0.0.1:18545"
DETAIL = (
    f"order {ORDER} was filled 1000000000000000000 of 2000000000000000000 on chain, "
    "but the node claims 1500000000000000000 filled and shows it closed; its last claimed "
    f"fill was in tx {TX} which the chain does not hold at any height it has now"
)

CASES = [
    Discrepancy("fill_after_node_closed", DETAIL, TX, 12345, ORDER, NODE, "http://127.0.0.1:9"),
    Discrepancy("missing_order", DETAIL, TX, 9999, ORDER),
    Discrepancy("bad_signature", DETAIL, TX, 99, ORDER),
    Discrepancy("overfill", DETAIL, TX, None, ORDER),
    Discrepancy("node_missing_fills", "short", node=NODE),
]


def _printed(d: Discrepancy) -> list[str]:
    check = CheckResult("c", "compares things", 1, (d,))
    report = AuditReport(31337, "0x" + "11" * 20, 0, 9, {"fills": 0, "cancels": 0,
                         "cancelsUpTo": 0, "settlementTxs": 0, "calldataDecoded": 0,
                         "orders": 0, "nodes": 0}, (check,))  # fmt: skip
    buf = io.StringIO()
    report.print(Console(file=buf, width=80, soft_wrap=True, highlight=False))
    lines = buf.getvalue().splitlines()
    return lines[lines.index("discrepancies (1)") + 1 :]


@pytest.mark.parametrize("d", CASES, ids=[c.kind for c in CASES])
def test_discrepancy_lines_fit_80_columns_with_hashes_whole(d: Discrepancy) -> None:
    lines = _printed(d)
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0] == f"✗ {d.kind}"
    text = "\n".join(lines)
    for h in (d.tx_hash, d.order_hash, d.node):
        if h is not None:
            assert any(h in line for line in lines), (h, lines)  # whole, on one line
    if d.log_index is not None:  # beside its tx while both fit, else on the next line
        tail = f" log {d.log_index}" if d.log_index < 100 else f"\n    log {d.log_index}"
        assert f"    tx {TX}{tail}" in text
    # the detail's words all there, in order, once the wrapping is undone
    assert " ".join(d.detail.split()) in " ".join(text.split())
    assert lines[-1] == "1 discrepancy"
