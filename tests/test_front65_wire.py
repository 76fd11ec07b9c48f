"""The orders channel's encodings (``sdex.node.frontwire``, front65): a front's checked order
as its ABI words, signature and hash in hex (``sdex.node.front.fronted``), read back by the
node with every field's range checked (``sdex.node.fronts.order_of``); an answer's headers
NUL-separated. In process: pure functions."""

from __future__ import annotations

import pytest

from sdex.node.front import fronted
from sdex.node.fronts import order_of
from sdex.node.frontwire import decode_answers, encode_answers
from sdex.order import UINT64_MAX, UINT256_MAX, Order, SignedOrder
from tests.conftest import Chain

ADDR = "0x" + "ab" * 20
ORDER = Order(ADDR, "0x" + "00" * 20, ADDR, "0x" + "cd" * 20, UINT256_MAX, 1, "0x" + "ef" * 20,
              0, UINT64_MAX, 2**255 + 7)  # fmt: skip
PACKED = (ORDER.abi_words() + b"\x11" * 65 + b"\x22" * 32).hex()


def test_a_fronted_order_reads_back_as_signed(chain: Chain) -> None:
    signed = chain.sign(chain.order(1, chain.weth, 10**18, chain.usdc, 3000 * 10**6))
    payload = fronted(dict(signed.to_json()), chain.domain)
    assert payload is not None
    assert order_of(payload) == signed
    assert order_of(PACKED) == SignedOrder(ORDER, b"\x11" * 65, b"\x22" * 32)  # edge values


def with_word(i: int, value: bytes) -> str:
    raw = bytearray(bytes.fromhex(PACKED))
    raw[32 * i : 32 * (i + 1)] = value
    return raw.hex()


@pytest.mark.parametrize(
    ("payload", "why"),
    [
        (PACKED[:-2], "not a packed order"),
        (PACKED + "00", "not a packed order"),
        (list(bytes.fromhex(PACKED)), "not a packed order"),
        (PACKED[:-2] + "zz", "non-hexadecimal"),
        (with_word(0, b"\x01" + bytes(31)), "not an address"),  # maker's top bytes
        (with_word(6, bytes(11) + b"\x01" + bytes(20)), "not an address"),  # fee recipient's
        (with_word(8, (UINT64_MAX + 1).to_bytes(32)), "not a uint64"),  # expiry
    ],
)
def test_a_payload_that_is_not_a_fronts_order_is_refused(payload: object, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        order_of(payload)


def test_answers_round_trip_with_and_without_headers() -> None:
    answers: list[tuple[int, int, dict[str, str] | None, bytes]] = [
        (1, 201, {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "9"}, b'{"a":1}'),
        (2, 429, {"Retry-After": "1", "X-Empty": ""}, b""),
        (3, 2, None, b""),
    ]
    assert decode_answers(encode_answers(answers)) == answers
