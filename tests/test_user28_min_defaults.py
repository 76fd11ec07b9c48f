"""A default minimum order size per listed token (user28): ``sdex node``'s default was 10^-4
of a whole token for every token, 0.0001 WETH (about $0.2-0.4) but 0.0001 USDC (a hundredth of
a cent), which made the dust bound meaningless on the quote side: an order asking 0.0001 USDC
was taken, and a maker with 1 USDC could keep 1,000 USDC orders open. Now the deployment file
may give each token its ``minAmount`` (base units, as ``order_config`` says it): ``sdex
devnet`` writes 0.0001 WETH and 0.1 USDC, and ``sdex node`` takes them as its defaults
(``--min-amount`` still overrides; a token without one keeps 10^-4 of a whole token)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdex.deployment import Deployment, DeploymentError
from sdex.node.cliconfig import config_for
from tests.conftest import Chain
from tests.nodeutil import free_port


def _config(chain: Chain, path: Path, *given: str) -> dict[str, int]:
    key = "0x" + chain.keys[19].hex()
    cfg = config_for(
        port=free_port(), key=key, deployment=path, db=path.parent / "n.db", min_amounts=given
    )
    return dict(cfg.limits.min_amounts)


def test_the_devnet_gives_each_token_its_minimum(chain: Chain, tmp_path: Path) -> None:
    weth, usdc = chain.deployment.tokens["WETH"], chain.deployment.tokens["USDC"]
    assert (weth.min_amount, usdc.min_amount) == (10**14, 10**5)  # 0.0001 WETH, 0.1 USDC
    path = tmp_path / "devnet.json"
    chain.deployment.save(path)
    saved = json.loads(path.read_text())["tokens"]
    assert saved["USDC"] == {"address": usdc.address, "decimals": 6, "minAmount": "100000"}
    assert Deployment.load(path) == chain.deployment
    assert _config(chain, path) == {weth.address: 10**14, usdc.address: 10**5}
    # the operator's word still wins
    assert _config(chain, path, "USDC=1", "WETH=0") == {usdc.address: 10**6}


def test_a_file_without_minimums_keeps_the_old_default(chain: Chain, tmp_path: Path) -> None:
    obj = chain.deployment.to_json()
    for t in obj["tokens"].values():
        del t["minAmount"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(obj))
    assert Deployment.load(path).tokens["USDC"].min_amount == 0
    assert _config(chain, path) == {chain.weth.address: 10**14, chain.usdc.address: 100}


@pytest.mark.parametrize(
    "bad", ["-1", "0.5", "1e3", "x", True, [], str(2**255 + 1), "١٢٣", "1" * 100, " 5", ""]
)
def test_a_bad_minimum_in_the_file_is_named(chain: Chain, tmp_path: Path, bad: object) -> None:
    obj = chain.deployment.to_json()
    obj["tokens"]["USDC"]["minAmount"] = bad
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(DeploymentError, match=r"'tokens\.USDC\.minAmount'"):
        Deployment.load(path)
