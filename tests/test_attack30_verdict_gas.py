"""attack30: a contract maker whose ``isValidSignature`` burns all the gas it is given.

Before the fix, ``getOrderStates`` called the wallet with all its gas: one ``POST /v1/orders``
of such a maker's order made the node's verdict ``eth_call`` (with the block's 30M gas) run
the wallet's loop on Hardhat for over 30 s (the node answered 503 ``CHAIN_UNAVAILABLE``
after its own timeout), Hardhat's RSS grew to 6.9 GB, and every other row of the same call
was starved of gas (63/64 of it went to the wallet). Now the view calls a wallet with
``SIGNATURE_VIEW_GAS`` (as it calls tokens with ``TOKEN_VIEW_GAS``): such a row reads as an
invalid signature, the rest of the call is untouched, and the node refuses the order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sdex.chain.exchange import decode_order_states
from sdex.order import sign_order
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_gas_gated_wallet import OWNER, gas_gated_wallet
from tests.test_node import ALICE, E6, E18, ask

ALWAYS = 0
"""A gate no call passes: the wallet burns whatever it is given, then says invalid."""


def burner(c: Chain) -> str:
    return gas_gated_wallet(c, burn=True, gate=ALWAYS)


def test_a_burning_wallet_row_does_not_starve_the_others(chain: Chain) -> None:
    """One ``getOrderStates`` with 2M gas: two burner rows first, an ordinary order after."""
    c = chain
    w = burner(c)
    hostile = sign_order(replace(ask(c, ALICE, E18, 3000 * E6), maker=w), c.domain, c.keys[OWNER])
    again = sign_order(replace(ask(c, ALICE, E18, 3000 * E6), maker=w), c.domain, c.keys[OWNER])
    honest = c.sign(ask(c, ALICE, E18, 3000 * E6))
    ex = c.exchange
    tx = {
        "to": ex.address,
        "data": "0x" + ex.encode_order_states([hostile, again, honest]).hex(),
        "gas": hex(2_000_000),
    }
    raw = c.rpc.call("eth_call", tx, "latest")
    bad, worse, good = decode_order_states(bytes.fromhex(raw[2:]))
    assert not bad.signature_valid and not worse.signature_valid
    assert good.signature_valid and good.maker_balance > 0 and good.hash == honest.hash


async def test_a_burning_wallet_order_is_refused_at_once(chain: Chain, tmp_path: Path) -> None:
    c = chain
    w = burner(c)
    hostile = sign_order(replace(ask(c, ALICE, E18, 3000 * E6), maker=w), c.domain, c.keys[OWNER])
    async with running_node(node_config(c, tmp_path / "n.db")) as (node, api):
        await wait_for(node.mirror_ready)
        code, body = await api.post_order(hostile)
        assert code == 400 and "signature" in str(body).lower(), body
