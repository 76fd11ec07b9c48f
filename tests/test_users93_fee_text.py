"""The node's ``FEE_REQUIRED`` names its fee recipient the way wallets print addresses.

users89 made every address a user reads EIP-55; the node's fee refusal still said its
``feeRecipient`` in lower case (the form ``--fee-recipient`` was parsed into), so a user
comparing it with the wallet's checksummed address saw two spellings of one account."""

from __future__ import annotations

from sdex.ingest.rejections import Rejection, RejectionCode
from sdex.ingest.rules import OrderRules
from sdex.order import Domain, Order, sign_order, to_checksum
from sdex.signature import address_of

KEY = bytes.fromhex("11" * 32)
RECIPIENT = "0x" + "ab" * 20  # lower case, as the node's config holds it
DOMAIN = Domain(31337, "0x" + "e0" * 20)


def test_fee_required_names_the_recipient_checksummed() -> None:
    rules = OrderRules(
        DOMAIN,
        known=lambda h: False,
        open_count=lambda maker: 0,
        now=lambda: 0,
        fee=(RECIPIENT, 25),
    )
    order = Order(
        address_of(KEY), "0x" + "00" * 20, "0x" + "01" * 20, "0x" + "02" * 20,
        10**18, 2 * 10**18, "0x" + "00" * 20, 0, 2**40, 7,
    )  # fmt: skip
    result = rules.check_offchain(sign_order(order, DOMAIN, KEY).to_json())
    assert isinstance(result, Rejection)
    assert result.code is RejectionCode.FEE_REQUIRED
    text = result.errors[0].reason
    assert to_checksum(RECIPIENT) in text
    assert RECIPIENT not in text
    assert "feeAmount >= 5000000000000000" in text
