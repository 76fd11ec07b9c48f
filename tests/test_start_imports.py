"""What a command loads before it runs: the suite starts ~90 ``sdex`` processes, a user one per
command. eth-abi (with eth-utils, pydantic, parsimonious, regex: about half a second of CPU)
loads at the first ABI call (``sdex.chain.abi``), and ``sdex audit`` / ``sdex simulate`` load
their packages only when run or listed (``sdex.cli._LazyGroup``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("eth_abi", "eth_utils", "pydantic", "sdex.audit", "sdex.sim")


def loaded_after(code: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """Which of ``heavy`` a fresh interpreter has loaded after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {heavy!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def invoked(*args: str) -> str:
    """Code that runs ``sdex ARGS`` in the interpreter, as the ``sdex`` script does."""
    return (
        f"from sdex.cli import main\ntry:\n    main({list(args)!r})\nexcept SystemExit:\n    pass"
    )


def test_a_wallet_command_and_a_nodes_imports_load_no_abi_codec_nor_audit_nor_sim() -> None:
    assert loaded_after(invoked("order", "--help")) == []
    assert loaded_after("import sdex.cli, sdex.node.main") == []


def test_a_wallet_command_loads_no_aiohttp_and_a_node_no_rich() -> None:
    """import91: every command loaded aiohttp (~0.2 s of CPU: its SSL contexts are built at
    import) through the sync RPC client's ``REDIRECTS`` (``sdex.redirects`` now), and
    ``sdex node`` loaded rich (~45 modules) through the wallet commands' imports in
    ``sdex.cli`` (now in the commands' bodies) and ``sdex.clipipe``'s console."""
    web = ("aiohttp", "rich")
    assert loaded_after(invoked("order", "--help"), web) == []
    assert loaded_after("import sdex.cli", web) == []
    assert loaded_after("import sdex.cli, sdex.node.main", web) == ["aiohttp"]
    assert loaded_after(invoked("devnet", "--help"), web) == ["rich"]  # (devnet: lazy)


def test_the_codec_and_the_lazy_commands_load_when_used() -> None:
    encode = (
        "from sdex.chain.abi import decode, encode\n"
        "assert decode(['uint256', 'string'], encode(['uint256', 'string'], [7, 'x'])) == (7, 'x')"
    )
    assert loaded_after(encode) == ["eth_abi", "eth_utils", "pydantic"]
    # (listing the commands loads the lazy ones' packages; since the calldata decoders
    # moved to ``sdex.chain.calldata`` (settle65), which loads the codec at its first
    # decode, not the codec)
    assert loaded_after(invoked("--help")) == ["sdex.audit", "sdex.sim"]
    decoded = (
        "import sdex.audit.calldata as c\n"
        "from sdex.chain import load_abi\n"
        "try:\n"
        "    c.decode_matches(load_abi('Exchange').fn('matchOrders').selector + bytes(8))\n"
        "except c.CalldataError:\n"
        "    pass"
    )
    assert loaded_after(decoded) == ["eth_abi", "eth_utils", "pydantic", "sdex.audit"]
