"""wallet69: a token symbol a node lists names one token a user can tell apart, or the wallet
refuses the node: ASCII letters, digits and ``. _ + -`` only, and no two symbols alike but for
case (a wallet reads a typed symbol without case).

Before: any printable name of 1 to 32 characters was taken (review67), so ``USDС`` with a
Cyrillic Es, printed like ``USDC``, named a fake token and a pasted pair signed an order for
it; and a node listing ``usdc`` (a fake) before ``USDC`` had ``--pair WETH/USDC`` sign for the
fake one (``OrderConfig.token`` took the first symbol equal without case). Now such an
``order_config`` is the node's protocol error: one line, exit 1, nothing signed or posted; and
a deployment file listing such symbols had ``sdex node`` refuse it (every wallet would refuse
the node), where it started and served them (wallet74: it now leaves those tokens out and
lists the rest, or refuses a file with fewer than two usable tokens). ``sdex order`` runs as
a real process against ``FakeNode`` (a real aiohttp server); ``sdex node`` as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakenode import EXCHANGE, KEY, USDC, WETH, FakeNode, closed_port, fake_node
from tests.test_cli_node import run_node

ROOT = Path(__file__).resolve().parents[1]
FAKE = "0x" + "66" * 20
"""The token the hostile node passes off as USDC."""
CYRILLIC_ES = "\u0421"


@pytest.fixture
def fake() -> Iterator[FakeNode]:
    with fake_node() as node:
        yield node


def _order(fake: FakeNode, pair: str) -> str:
    args = ["order", "buy", "2000", "1", "--pair", pair, "--node", fake.url]
    r = subprocess.run(
        [sys.executable, "-m", "sdex", *args, "--key", "0x" + KEY.hex()],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "300", "PYTHONIOENCODING": "utf-8"},
    )
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Traceback" not in out, out
    return out


def _listing(*tokens: tuple[str, str]) -> dict[str, dict[str, object]]:
    return {sym: {"address": address, "decimals": 6} for sym, address in tokens}


def test_a_look_alike_symbol_is_refused(fake: FakeNode) -> None:
    listed = "USD" + CYRILLIC_ES
    fake.config["tokens"] = {
        "WETH": {"address": WETH, "decimals": 18},
        **_listing((listed, FAKE)),
    }
    out = _order(fake, "WETH/" + listed)  # (the pair pasted from the node's listing)
    assert "not a short ASCII name: 'USD\\u0421'" in out, out
    assert fake.posted == []  # before: an order signed and posted for the fake token


def test_symbols_alike_but_for_case_are_refused(fake: FakeNode) -> None:
    fake.config["tokens"] = {
        "WETH": {"address": WETH, "decimals": 18},
        **_listing(("usdc", FAKE), ("USDC", USDC)),
    }
    out = _order(fake, "WETH/USDC")
    assert "lists the token symbols 'usdc' and 'USDC'" in out, out
    assert fake.posted == []  # before: `--pair WETH/USDC` signed for the fake (listed first)


def test_a_node_refuses_a_deployment_of_look_alikes_only(tmp_path: Path) -> None:
    """Refused when fewer than two tokens a wallet can use are left (wallet74: a file with
    some such tokens has the node leave them out, ``test_wallet74_bad_symbols_node``)."""
    deployment = tmp_path / "d.json"
    tokens = {"WETH": {"address": WETH, "decimals": 18}, **_listing(("USD" + CYRILLIC_ES, FAKE))}
    rpc = f"http://127.0.0.1:{closed_port()}"
    deployment.write_text(
        json.dumps(
            {"chainId": 31337, "rpc": rpc, "exchange": EXCHANGE, "deployBlock": 0, "tokens": tokens}
        )
    )
    done = run_node("--deployment", str(deployment), "--key", "0x" + KEY.hex())
    assert done.returncode == 2, done.stderr  # before: 1, its chain unreachable (read first)
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "has a bad 'tokens': it lists a token symbol" in line
    assert "'USD\\u0421'" in line, line
