"""review31 found, contract32 fixed (tests/test_contract32_bitmap_siblings.py): on chain,
cancelling a bitmap order whose nonce a same-nonce sibling filled whole sets the nonce's
two bits to IN_SLOT (it did) (``Exchange.cancelOrder``), and the sibling (filled whole: its own fill
slot never written) then reads as untouched, FILLABLE with 0 filled, and is filled a second
time: its maker gives twice what it signed. Only a maker that reused a nonce (ARCHITECTURE
"Bitmap orders": a wallet must not) is overfilled, but by its own cancel, and ``sdex audit``
then reports the overfill and nodes disagree on the order (one says filled, a node that
reads it anew says open). It needed a fourth state of the bits ("filled whole, one of this
nonce cancelled since": read the slot if written, else ``makerAmount``) so the cancelled
order reads CANCELLED (tests/test_exchange_gas.py pins that) and its siblings stay FILLED.
The fix: the bits move only 0 -> 1 -> 3 or 0 -> 2 (ARCHITECTURE "Bitmap orders")."""

from __future__ import annotations

from sdex.chain import OrderStatus
from sdex.order import bitmap_salt
from tests.conftest import Chain

MAKER, TAKER = 8, 9
WETH = 10**18
NONCE = 91


def test_cancelling_a_sibling_leaves_a_bitmap_order_filled_whole_filled(chain: Chain) -> None:
    c = chain
    a = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3000 * 10**6, salt=bitmap_salt(NONCE)))
    b = c.sign(c.order(MAKER, c.weth, WETH, c.usdc, 3100 * 10**6, salt=bitmap_salt(NONCE)))
    c.exchange.fill_order(c.sender(TAKER), b, 3100 * 10**6)
    assert c.exchange.order_info(b.order).filled == WETH
    c.exchange.cancel_order(c.sender(MAKER), a.order)
    info = c.exchange.order_info(b.order)
    assert (info.status, info.filled) == (OrderStatus.FILLED, WETH), info  # was: FILLABLE, 0
