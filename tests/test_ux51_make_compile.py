"""The Makefile's contract compile step (ux51: `make demo` printed hardhat's "Compiled 47
Solidity files successfully" despite ``--quiet``, and solc's transient-storage warning):
quiet when it compiles, everything shown when it fails. The rule runs as `make` runs it, on
a small contracts folder of its own (the project's 47 files take a minute) with the
project's hardhat.config.js and node_modules."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# tstore in inline assembly: solc warns of transient storage, as it does of OpenZeppelin's
TRANSIENT = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Guarded {
    function touch() external {
        assembly {
            tstore(0, 1)
        }
    }
}
"""


def compile_rule(tmp: Path, source: str) -> subprocess.CompletedProcess[str]:
    """``make artifacts/.compiled`` in ``tmp`` with one contract, ``source`` (node_modules
    taken as installed: ``-o``)."""
    (tmp / "contracts").mkdir()
    (tmp / "contracts" / "Guarded.sol").write_text(source)
    shutil.copy(ROOT / "hardhat.config.js", tmp)
    (tmp / "node_modules").symlink_to(ROOT / "node_modules")
    return subprocess.run(
        ["make", "-f", str(ROOT / "Makefile"), "-o", "node_modules/.installed",
         "artifacts/.compiled"],
        cwd=tmp, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
    )  # fmt: skip


def test_the_compile_step_is_quiet_when_it_compiles(tmp_path: Path) -> None:
    done = compile_rule(tmp_path, TRANSIENT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "artifacts" / ".compiled").exists()
    assert (tmp_path / "artifacts" / "contracts" / "Guarded.sol" / "Guarded.json").exists()
    said = done.stdout + done.stderr
    assert said.strip() == "compiling the contracts (solc from npm)", said


def test_the_compile_step_shows_why_it_failed(tmp_path: Path) -> None:
    done = compile_rule(tmp_path, TRANSIENT.replace("tstore(0, 1)", "tstore(0, 1"))
    assert done.returncode != 0
    assert "ParserError" in done.stderr, done.stdout + done.stderr
    assert "Guarded.sol" in done.stderr, done.stderr
    assert not (tmp_path / "artifacts" / ".compiled").exists()
