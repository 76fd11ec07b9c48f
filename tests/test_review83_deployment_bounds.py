"""review83: a deployment file's numbers were read unbounded (``_uint``): a token's
``decimals`` of 5,000 was taken, the node's default minimum for it 10^4988 base units, and
every ``GET /v1/order_config`` answered 500 (``str`` of an int past 4,300 digits); one of
10^9 held the start computing 10^(10^9). A ``decimals`` of 78 was taken too, and every
wallet then refused the node ("impossible decimals", ``sdex.answers``). A ``deployBlock``
past 2^63 is past what the store keeps; a ``chainId`` past 2^256 is no EIP-712 domain's.

Now each is bounded where the file is read: ``DeploymentError`` naming the field."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sdex.deployment import Deployment, DeploymentError
from sdex.ingest.minimums import minimums_for
from sdex.node.config import NodeConfig
from tests.conftest import Chain
from tests.nodeutil import free_port, running_node

BAD = [
    ("decimals", 78),
    ("decimals", 5000),
    ("decimals", "5000"),
    ("decimals", -1),
    ("deployBlock", 2**63),
    ("chainId", 2**256),
]


def _written(chain: Chain, path: Path, field: str, value: object) -> Path:
    obj = chain.deployment.to_json()
    if field == "decimals":
        next(iter(obj["tokens"].values()))["decimals"] = value
    else:
        obj[field] = value
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize(("field", "value"), BAD, ids=[f"{f}={str(v)[:12]}" for f, v in BAD])
def test_a_deployment_number_out_of_bounds_is_refused(
    chain: Chain, tmp_path: Path, field: str, value: object
) -> None:
    path = _written(chain, tmp_path / "deployment.json", field, value)
    with pytest.raises(DeploymentError, match=field):
        Deployment.load(path)


@pytest.mark.parametrize("decimals", [0, 77])
async def test_a_node_on_decimals_within_bounds_answers_its_config(
    chain: Chain, tmp_path: Path, decimals: int
) -> None:
    """At the bounds the file is taken, and a node on it answers ``order_config`` (77
    decimals: a default minimum of 10^65 base units, said in full)."""
    path = _written(chain, tmp_path / "deployment.json", "decimals", decimals)
    d = Deployment.load(path)
    cfg = NodeConfig.from_deployment(d, chain.keys[19], tmp_path / "n.db", port=free_port())
    minimums = minimums_for(d.tokens)  # (as ``sdex node`` sets them: ``cliconfig``)
    async with running_node(replace(cfg, limits=replace(cfg.limits, min_amounts=minimums))) as (
        _node,
        api,
    ):
        code, config = await api.get("/v1/order_config")
        assert code == 200, config
        first = next(iter(config["tokens"].values()))
        assert first["decimals"] == decimals and int(first["minAmount"]) >= 1
