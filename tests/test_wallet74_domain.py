"""wallet74: a node whose EIP-712 domain differs from the wallet's is refused with what
differs, field by field, each value bounded; and a node refusing an order signed over another
domain says that may be why.

Before: the wallet printed both domains whole, as the node sent them (a name of 5,000
characters printed 5,000 characters, any extra field too), without saying which field
differed; and the node's refusal of such an order said only "the signature is not the
maker's". ``sdex order`` runs against ``FakeNode`` (a real aiohttp server); the node is a
real one, in process, on the test chain (Hardhat)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdex.order import ZERO_ADDRESS, Domain, Order, random_salt, sign_order
from tests.conftest import Chain
from tests.fakenode import fake_node, run_cli, wallet_args
from tests.nodeutil import node_config, running_node


@pytest.mark.parametrize(
    ("changes", "said"),
    [({"name": "SDEX2"}, "name 'SDEX2' (this wallet's: 'SDEX')"),
     ({"version": "2"}, "version '2' (this wallet's: '1')"),
     ({"name": "X" * 5000}, "name 'XXXX"),
     ({"name": "SDEX\x1b[2J"}, "name 'SDEX\\x1b[2J' (this wallet's: 'SDEX')"),
     ({"salt": "0x" + "00" * 32}, "fields this wallet does not sign: 'salt'"),
     ({**{f"f{i}" * 300: 1 for i in range(50)}}, ", ...")],
)  # fmt: skip
def test_a_wallet_says_what_differs_in_the_nodes_domain(changes: dict[str, Any], said: str) -> None:
    with fake_node() as fake:
        fake.config["domain"].update(changes)
        r = run_cli("order", "buy", "2000", "1", *wallet_args(fake))
        posted = list(fake.posted)
    out = r.output
    assert r.exit_code == 1, out
    assert "refusing to sign: the node's EIP-712 domain differs from this wallet's" in out, out
    assert said in out, out
    assert len(out) < 700, len(out)  # before: the node's whole domain (5,000 characters, ...)
    assert "\x1b" not in out, out
    if {"name", "version"} & set(changes):
        assert "a node of another version of SDEX?" in out, out
    assert posted == []


async def test_a_node_says_an_order_may_be_signed_over_another_domain(
    chain: Chain, tmp_path: Path
) -> None:
    other = Domain(chain.domain.chain_id + 1, chain.domain.verifying_contract)
    order = Order(
        chain.address(1), ZERO_ADDRESS, chain.weth.address, chain.usdc.address, 10**18,
        2000 * 10**6, ZERO_ADDRESS, 0, chain.now() + 3600, random_salt(),
    )  # fmt: skip
    signed = sign_order(order, other, chain.keys[1])
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_, api):
        body = dict(signed.to_json())
        status, answer = await api.post("/v1/orders", body)
    assert status == 400, answer
    (err,) = answer["validationErrors"]
    assert err["field"] == "signature", answer
    assert "or not over this node's EIP-712 domain: GET /v1/order_config" in err["reason"], answer
