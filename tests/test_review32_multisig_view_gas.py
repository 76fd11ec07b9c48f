"""review32: what ``SIGNATURE_VIEW_GAS`` (100,000) leaves an honest multisig wallet.

``getOrderStates`` calls a contract maker's ``isValidSignature`` with 100,000 gas
(attack30); a wallet that needs more reads as invalid, and its orders are refused. A k-of-n
multisig checked as a Safe checks its owners' ECDSA signatures (an ``ecrecover`` and a cold
storage read a signer, ~6k) reads valid up to a threshold of 15 here; a Safe's
fallback-handler hop and message hash cost more (not measured: no Safe code here)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from sdex.chain.exchange import deploy
from sdex.order import SignedOrder, sign_order
from sdex.signature import address_of, sign_hash
from tests.conftest import Chain
from tests.test_node import ALICE, E6, E18, ask

FITS = 15
"""The largest threshold whose wallet reads valid within the view's gas (measured: 16
does not)."""


def multisig_order(c: Chain, threshold: int) -> SignedOrder:
    keys = sorted((os.urandom(32) for _ in range(threshold + 2)), key=address_of)
    owners = [address_of(k) for k in keys]
    w = deploy(c.sender(0), "ERC1271Multisig", owners, threshold)
    signers = sorted(keys[:threshold], key=lambda k: int(address_of(k), 16))
    order = replace(ask(c, ALICE, E18 // 10, 250 * E6), maker=w)
    digest = sign_order(order, c.domain, keys[0]).hash
    return SignedOrder(order, b"".join(sign_hash(digest, k) for k in signers), digest)


@pytest.mark.parametrize(("threshold", "valid"), [(1, True), (FITS, True), (FITS + 1, False)])
def test_a_multisig_reads_valid_up_to_its_threshold(
    chain: Chain, threshold: int, valid: bool
) -> None:
    (state,) = chain.exchange.order_states([multisig_order(chain, threshold)])
    assert state.signature_valid is valid
