"""The audit's ``--orders`` file is the auditor's own, but a damaged or hostile one (a file
handed over by someone else) is bounded like any other input: a file nested 200,000 deep is
refused as not orders, never a ``RecursionError`` traceback, nor a crash of the interpreter
where py_ecc has raised the recursion limit (it is imported by eth-account, as in ``sdex``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import sys
import eth_account  # noqa: F401  (py_ecc raises the recursion limit, as in the CLI)
from sdex.audit import OrdersFileError, load_orders
from sdex.order import Domain
try:
    load_orders(sys.argv[1], Domain(31337, "0x" + "11" * 20))
except OrdersFileError as e:
    print("refused:", e)
"""

DEEP = 200_000

CASES = [
    ("deep-list", "[" * DEEP + "]" * DEEP),
    ("deep-records", '{"records": ' + "[" * DEEP + "]" * DEEP + "}"),
    ("deep-unclosed", "[" * DEEP),
    ("deep-object", '{"a":' * DEEP + "1" + "}" * DEEP),
]


@pytest.mark.parametrize("text", [t for _, t in CASES], ids=[i for i, _ in CASES])
def test_a_deep_orders_file_is_refused_not_a_crash(tmp_path: Path, text: str) -> None:
    path = tmp_path / "orders.json"
    path.write_text(text)
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, (r.returncode, r.stderr[-500:])
    assert r.stdout.startswith("refused: cannot read orders file"), r.stdout
    assert "deeper than" in r.stdout or "not JSON" in r.stdout, r.stdout
