"""fee86: bounds84's ceiling (``MAX_BASE_FEE``, 100,000 gwei) was a constant: a chain whose
base fee is above it (a devnet's set fee, a chain whose gas token is cheap) never settled,
and no setting raised it. Now it is a node setting (``sdex node --max-base-fee GWEI``, also
``$SDEX_MAX_BASE_FEE``; ``NodeConfig.max_base_fee``), the default as before; a node without
a higher one refuses clearly: /health's ``chainMirror.baseFee`` says the fee is above its
ceiling and names the option. Real Hardhat (``hardhat_setNextBlockBaseFeePerGas``), a real
node; the node given a higher ceiling is tests/test_review86a_fee_jump_settles.py's."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.chain.headsignal import HeadSignal
from sdex.chain.rpc import quantity
from sdex.chain.tx import MAX_BASE_FEE
from sdex.cli import main
from sdex.node.cliconfig import config_for
from tests.conftest import Chain
from tests.nodeutil import free_port, node_config, running_node, wait_for
from tests.test_audit import ALICE, BOB, E6, E18, ask, bid

GWEI = 10**9
HIGH = 150_000 * GWEI
"""The chain's base fee in these tests: above the default ceiling."""


async def test_a_fee_above_the_ceiling_is_refused_and_health_says_why(
    chain: Chain, tmp_path: Path
) -> None:
    """The default ceiling on a 150,000 gwei chain: the match waits unsent, /health's
    ``chainMirror.baseFee`` says the chain's fee is above the node's ceiling and names
    ``--max-base-fee``; the chain's fee back under it, the match settles."""
    c = chain
    price = 5000 + quantity(c.rpc.call("eth_blockNumber")) % 1000
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(lambda: node.watcher.status == "ok", 60)
        was = int(c.rpc.call("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        heads = node.mirror.announced
        settled = node.settler.settled
        c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(HIGH))
        c.rpc.call("hardhat_mine", "0x1")
        try:
            await wait_for(lambda: heads.refusing, 60)  # (the watcher's read of the block)
            for o in (
                ask(c, ALICE, E18 // 100, price * E6 // 100, salt=price),
                bid(c, BOB, E18 // 100, price * E6 // 100, salt=price),
            ):
                code, body = await api.post_order(o)
                assert code == 201, body
            refused = heads.untrusted
            await wait_for(lambda: heads.untrusted >= refused + 3, 60)  # (the settler's too)
            assert node.settler.settled == settled  # (nothing signed above the ceiling)
            code, health = await api.get("/health")
            fees = health["chainMirror"]["baseFee"]
            assert fees["refusing"] is True and fees["ceiling"] == MAX_BASE_FEE, fees
            assert f"baseFeePerGas {HIGH}" in fees["lastUntrusted"], fees
            assert "--max-base-fee" in fees["lastUntrusted"], fees
        finally:  # (the chain's fee back for the tests after)
            c.rpc.call("hardhat_setNextBlockBaseFeePerGas", hex(was))
            c.rpc.call("hardhat_mine", "0x1")
        await wait_for(lambda: node.settler.settled > settled, 90)  # (it was the fee alone)
        code, health = await api.get("/health")
        assert health["chainMirror"]["baseFee"]["refusing"] is False, health["chainMirror"]


def test_the_ceiling_is_an_option(chain: Chain, tmp_path: Path) -> None:
    """``--max-base-fee`` (whole gwei) sets ``NodeConfig.max_base_fee`` in wei; unset, the
    default; out of range, from the option or ``$SDEX_MAX_BASE_FEE``, a usage error naming
    the option before anything starts."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    key = "0x" + chain.keys[17].hex()
    assert config_for(port=free_port(), key=key, deployment=deployment).max_base_fee == (
        MAX_BASE_FEE
    )
    cfg = config_for(port=free_port(), key=key, deployment=deployment, max_base_fee=200_000)
    assert cfg.max_base_fee == 200_000 * GWEI
    with pytest.raises(ValueError, match="--max-base-fee"):
        config_for(port=free_port(), key=key, deployment=deployment, max_base_fee=0)
    base = ["node", "--port", "1", "--deployment", str(deployment), "--key", key]
    for args, env in [
        (["--max-base-fee", "0"], {}),
        (["--max-base-fee", "x"], {}),
        (["--max-base-fee", str(10**9 + 1)], {}),
        ([], {"SDEX_MAX_BASE_FEE": "0"}),
    ]:
        r = CliRunner().invoke(main, base + args, env={"COLUMNS": "200", **env})
        assert r.exit_code == 2 and "--max-base-fee" in r.output, (args, env, r.output)
    r = CliRunner().invoke(main, ["node", "--help"], env={"COLUMNS": "200"})
    assert "--max-base-fee" in r.output and "SDEX_MAX_BASE_FEE" in r.output, r.output


def test_an_announced_fee_above_the_ceiling_is_not_used() -> None:
    """A feed's fee within EIP-1559's bounds of the last read but above the ceiling was
    signed with (no request): now the fee is read (and refused)."""
    heads = HeadSignal()
    heads.ceiling = 10 * GWEI
    assert heads.read(10, 10 * GWEI) is None
    heads.announce("0x" + "ab" * 32, 11 * GWEI, 11)
    assert heads.base_fee is None and heads.refused == 1
    heads.ceiling = 20 * GWEI
    heads.announce("0x" + "cd" * 32, 11 * GWEI, 11)
    assert heads.base_fee is not None and heads.base_fee[0] == 11 * GWEI
