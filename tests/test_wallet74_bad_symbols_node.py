"""wallet74: a deployment file listing tokens whose symbols no wallet can use (a look-alike
character, two symbols alike but for case: ``symbol_faults``) has ``sdex node`` leave out
those tokens and every pair with them, each said in a ``warning:`` line on stderr, and list
the rest; only a file with fewer than two usable tokens left is refused, in one line.

Why not refuse the whole file, as before: the fault is in those tokens' entries alone, and a
node refusing to start on it took every other market down with them (an operator adding one
bridged token with a bad symbol to a shared deployment file stopped trading in all); listed,
they would have every wallet refuse the node (``OrderConfig`` checks the listing). Left out,
they can be neither named nor traded here: an order for one is refused as for any token the
node does not list. Before: exit 2, nothing served. A real ``sdex node`` process on the test
chain (Hardhat); a real wallet client reads its ``order_config``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sdex.client import NodeApiError, NodeClient
from sdex.order import ZERO_ADDRESS, Order, random_salt, sign_order
from tests.conftest import Chain
from tests.nodeutil import node_started
from tests.test_cli_node import run_node

FAKE = "0x" + "66" * 20
ALSO = "0x" + "77" * 20
CYRILLIC_ES = "\u0421"


def _deployment(chain: Chain, path: Path, tokens: dict[str, str] | None) -> Path:
    d = chain.deployment.to_json()
    if tokens is None:
        d["tokens"] = {}
    for sym, address in (tokens or {}).items():
        d["tokens"][sym] = {"address": address, "decimals": 6}
    path.write_text(json.dumps(d))
    return path


async def test_a_node_leaves_out_only_the_tokens_no_wallet_can_name(
    chain: Chain, tmp_path: Path
) -> None:
    bad = {"USD" + CYRILLIC_ES: FAKE, "dai": ALSO, "DAI": "0x" + "88" * 20}
    deployment = _deployment(chain, tmp_path / "d.json", bad)
    log = tmp_path / "node.log"
    async with node_started(chain, deployment, tmp_path / "n.db", 19, log, timeout=90) as (_, base):
        with NodeClient(base) as client:
            config = await asyncio.to_thread(client.order_config)  # (a wallet takes it)
            assert list(config.tokens) == ["WETH", "USDC"]
            assert config.pairs == (("WETH", "USDC"),)
            order = Order(
                chain.address(1), ZERO_ADDRESS, FAKE, chain.usdc.address, 10**6, 10**6,
                ZERO_ADDRESS, 0, chain.now() + 3600, random_salt(),
            )  # fmt: skip
            signed = sign_order(order, chain.domain, chain.keys[1])
            try:
                await asyncio.to_thread(client.post_order, signed)
            except NodeApiError as e:
                refused: NodeApiError | None = e
            else:
                refused = None
    assert refused is not None and refused.status == 400, refused
    assert refused.rejection == "TOKEN_NOT_SUPPORTED", refused.body
    said = log.read_text(errors="replace")
    warnings = [line for line in said.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2, said
    assert "the token symbol 'USD\\u0421' is not a short ASCII name" in warnings[0], warnings
    assert "the token symbols 'dai' and 'DAI': one name to a wallet" in warnings[1], warnings
    for line in warnings:
        assert "left out by this node, with their pairs; it lists WETH, USDC" in line, line


def test_a_file_without_two_usable_tokens_is_refused(chain: Chain, tmp_path: Path) -> None:
    deployment = _deployment(chain, tmp_path / "d.json", None)
    d = json.loads(deployment.read_text())
    d["tokens"] = {
        "WETH": {"address": chain.weth.address, "decimals": 18},
        "USD" + CYRILLIC_ES: {"address": FAKE, "decimals": 6},
    }
    deployment.write_text(json.dumps(d))
    done = run_node("--deployment", str(deployment), "--key", "0x" + chain.keys[19].hex())
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and "has a bad 'tokens': it lists a token symbol" in line
    assert "'USD\\u0421'" in line and "not two tokens whose symbols a wallet can use" in line
