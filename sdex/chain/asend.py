"""A ``Sender``'s broadcasts on the event loop, through the async client (``sdex.chain.arpc``).

The same three ways as ``Sender.broadcast``, ``broadcast_sync`` and ``broadcast_for_receipt``
(``sdex.chain.tx``), with the same answers and the same rule: whenever a send's fate is
unknown, the lane's nonce is forgotten (read from the chain again before the next). One
difference (sends31): ``broadcast_sync`` takes only an answer that says the method is not
served (``not_served``) for "not served"; ``Sender.broadcast_sync`` (no caller in sdex
any more; tests/test_chain_tx.py) still takes any failure so. Signing stays with
``Sender`` (CPU, no I/O); only the round trips are here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sdex.chain.arpc import AsyncRpc
from sdex.chain.tx import Sender, SignedTx, already_known
from sdex.errors import ChainError, ContractRevert, RpcError, RpcTimeout, TransactionFailed

ChainView = tuple[int, str, int]
"""The node's view of the chain it signs for: a block of it (the Exchange's deployment
block), that block's hash, as the watcher holds them, and the resets the watcher began (a
reset that keeps that block's hash moves the view too: reset70, a reorg below every kept
block or a devnet restarted within the same second left it as it was)."""


class ChainReplaced(ChainError):
    """The chain behind the RPC's URL is not the one a transaction was signed for (reset or
    restarted: a new chain, the same chain id): the transaction is not sent there."""


class ChainUnproven(ChainError):
    """The chain behind the RPC's URL answered no block where the node's view has one (a
    backend still below it, most likely): neither that chain nor another proven. Nothing is
    sent there again and nothing given up for it: the caller waits (its receipt polled) and
    the watcher, which counts a null answer as no proof too (``sdex.watch.fork``), proves a
    reset on its own."""


UNSERVED_CODES = frozenset({-32601, -32004, -32600})
"""JSON-RPC error codes that say a method is not served: not found (-32601), not supported
(Hardhat's -32004), an invalid request (a proxy that knows no such method: -32600)."""
_UNSERVED_HTTP = re.compile(r" answered HTTP (400|401|403|404|405|501)\Z")
"""A proxy's refusal of the request itself (a method allowlist's 403...)."""
_UNSERVED_TEXT = re.compile(
    r"(method|eth_sendRawTransactionSync)\b.{0,80}\b(not (found|supported|available|allowed|"
    r"exist|whitelisted|enabled)|does not exist|is unavailable)|unsupported method|"
    r"unknown method|method not",
    re.IGNORECASE,
)
"""A server's words for a method it does not serve under another code (-32000 and others)."""


def not_served(e: BaseException) -> bool:
    """Whether ``e``, the failure of an ``eth_sendRawTransactionSync``, says the endpoint
    does not serve that method (then sync sends are turned off). A transient failure (a
    disconnect, no answer in time, an answer too large, "nonce too low", a rate limit's
    429) says nothing of the kind (review30: any failure turned them off)."""
    if not isinstance(e, RpcError) or isinstance(e, RpcTimeout):
        return False
    if e.code in UNSERVED_CODES:
        return True
    if e.code == 0:
        return _UNSERVED_HTTP.search(e.message) is not None  # (this client's own words)
    return _UNSERVED_TEXT.search(e.message[:1000]) is not None


def holds_view(view: ChainView, block: object) -> bool:
    """Whether ``block`` (``eth_getBlockByNumber``'s answer for ``view``'s number: a dict,
    None, or an error) is ``view``'s block."""
    return isinstance(block, dict) and str(block.get("hash")).lower() == view[1].lower()


class AsyncSends:
    """The broadcasts of ``sender``'s signed transactions over ``rpc``."""

    def __init__(self, rpc: AsyncRpc, sender: Sender) -> None:
        self.rpc = rpc
        self.sender = sender
        self.view: Callable[[], ChainView] | None = None
        """The node's view of the chain (the watcher's deployment block and hash, set by the
        node): a sync send that timed out is sent again only on that chain (resend67)."""
        self.doubt: Callable[[], str] | None = None
        """Why the chain's identity is in doubt now ("" when it is not; set by the node:
        ``sdex.mirror.doubt``): nothing signed before is sent again meanwhile (``on_chain``
        raises ``ChainUnproven``; kept77)."""

    async def broadcast(self, signed: SignedTx) -> None:
        """As ``Sender.broadcast``: a rebroadcast of a known one is harmless; a revert that
        was mined (Hardhat's automine answers so) raises ``TransactionFailed``."""
        try:
            await self.rpc.call("eth_sendRawTransaction", signed.raw)
        except ContractRevert as e:
            if await self._ask("eth_getTransactionReceipt", signed) is not None:
                raise TransactionFailed(signed.tx_hash, e) from None
            self.sender.forget_nonce()
            raise
        except Exception:
            self.sender.forget_nonce()  # unknown whether it was taken
            raise

    async def broadcast_sync(self, signed: SignedTx, timeout: float) -> tuple[Any, bool | None]:
        """As ``Sender.broadcast_sync`` (``eth_sendRawTransactionSync``, EIP-7966):
        ``(raw receipt or None, served)``; ``served`` False only when the endpoint says it
        does not serve the method (``not_served``; the same bytes then sent plainly). Any
        other failure is handled as ``broadcast`` handles it (the nonce forgotten, raised);
        no answer in time, or one too large to read (``AnswerTooLarge``): None, the
        receipt polled; the same bytes sent again if the chain does not know them (a slow
        endpoint that does not serve the method), only while the chain behind the URL is
        the one the node's view had at the send (``view``): else ``ChainReplaced`` (the
        send lost: the reset's re-judging has its orders; resend67: an old chain's
        settlement landed on the chain that replaced it, its orders maybe unfunded there);
        neither proven (``ChainUnproven``: a backend below the view's block): not sent again,
        None, its receipt polled."""
        view = self.viewed()
        try:
            raw = await self.rpc.call("eth_sendRawTransactionSync", signed.raw, timeout=timeout)
            return raw, True
        except RpcTimeout:
            try:
                known = await self.rpc.call("eth_getTransactionByHash", signed.tx_hash)
                if known is None and not await self.on_chain(view):
                    self.sender.forget_nonce()  # (the new chain's count is not ours)
                    raise ChainReplaced(f"{signed.tx_hash} not sent again: the chain was replaced")
            except ChainReplaced:
                raise
            except Exception:  # (most likely sent, or no proof: its receipt polled patiently)
                return None, None
            if known is None:
                await self._send_again(signed)
            return None, None
        except ContractRevert as e:  # mined and reverted, or refused: the receipt tells
            if (receipt := await self._ask("eth_getTransactionReceipt", signed)) is None:
                self.sender.forget_nonce()
                raise e from None
            return receipt, True
        except Exception as e:
            if not_served(e):  # (-32601, -32004, a proxy's 403...): plainly, at once
                await self._send_again(signed)
                return None, False
            if isinstance(e, RpcError) and already_known(e):  # (a copy sent before: sent)
                return None, None
            # Transient (a disconnect, "nonce too low"...): as the plain path would handle
            # it: the nonce re-read, the failure raised to the settler (it judges a nonce
            # refusal; else the receipt is polled), sync sends kept on.
            self.sender.forget_nonce()
            raise

    async def broadcast_for_receipt(self, signed: SignedTx) -> Any:
        """As ``Sender.broadcast_for_receipt``: the send and a receipt ask in one batch."""
        try:
            sent, receipt = await self.rpc.batch(
                [
                    ("eth_sendRawTransaction", [signed.raw]),
                    ("eth_getTransactionReceipt", [signed.tx_hash]),
                ]
            )
        except Exception:
            self.sender.forget_nonce()
            raise
        if isinstance(receipt, Exception):
            receipt = None
        if isinstance(sent, ContractRevert):
            if receipt is None:
                receipt = await self._ask("eth_getTransactionReceipt", signed)
            if receipt is not None:
                return receipt
            self.sender.forget_nonce()
            raise sent
        if isinstance(sent, Exception):
            self.sender.forget_nonce()
            raise sent
        return receipt

    async def preflight(
        self,
        to: str,
        data: bytes,
        gas: int | None = None,
        fees: tuple[int, int] | None = None,
        block: str = "latest",
    ) -> None:
        """As ``Sender.preflight``: ``ContractRevert`` if the call would revert. ``gas``: the
        gas the transaction would carry (without it the call gets the block's, and code that
        answers by ``gasleft()``, e.g. a contract maker's ``isValidSignature``, passes here
        and fails when sent: attack30); ``fees``: the (base fee, tip) it is signed with
        (without them the call pays no gas price, and code that answers by ``tx.gasprice``
        passes here and fails when mined: review32); ``block``: the state it runs at (a
        number: the one the failure's evidence is read at, blame44)."""
        tx = {"from": self.sender.address, "to": to, "data": "0x" + data.hex()}
        if gas is not None:
            tx["gas"] = hex(gas)
        if fees is not None:
            base_fee, tip = fees  # (as ``Sender.sign_at`` signs them)
            tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = hex(2 * base_fee + tip), hex(tip)
        await self.rpc.call("eth_call", tx, block)

    def viewed(self) -> ChainView | None:
        """The node's view of the chain now (None: no view set); the watcher's reset moves
        it, so two reads compare without a request (resend68)."""
        return self.view() if self.view is not None else None

    def doubted(self) -> str:
        """Why the chain's identity is in doubt ("" when it is not, or no doubt is set)."""
        return self.doubt() if self.doubt is not None else ""

    async def on_chain(self, view: ChainView | None) -> bool:
        """Whether the chain behind the URL holds ``view``'s block and the watcher saw no
        reset since (the same chain; True with no view); the ask's errors raised. Not held
        only when another block there is said twice, the second a request of its own
        (review74a: one flapped answer gave up a settlement pooled on the same chain at a
        start's reconcile, its matches signed again, a paid revert when it landed); the
        watcher proves a reset on its own. An answer that is no block (null: a backend still
        below it) proves nothing: ``ChainUnproven`` (left76: two nulls were "not held", and a
        settlement was given up on a chain that was only lagging). So while the chain's
        identity is in doubt (``doubt``: an answer of another chain a second read did not
        repeat), whatever these reads say: an endpoint that flaps between two chains answers
        both of them."""
        if why := self.doubted():  # (kept77: a flapping endpoint's two reads prove nothing)
            raise ChainUnproven(f"the chain's identity is in doubt ({why}): not sent again")
        if view is None:
            return True
        if self.viewed() != view:  # (a reset that kept the block's hash: reset70)
            return False
        proven = True
        for _ in range(2):
            block = await self.rpc.call("eth_getBlockByNumber", hex(view[0]), False)
            if holds_view(view, block):
                return True
            proven = proven and isinstance(block, dict) and isinstance(block.get("hash"), str)
        if not proven:
            raise ChainUnproven(f"the chain answered no block {view[0]}: no proof it was replaced")
        return False

    async def _ask(self, method: str, signed: SignedTx) -> Any:
        try:
            return await self.rpc.call(method, signed.tx_hash)
        except Exception:
            self.sender.forget_nonce()
            raise

    async def _send_again(self, signed: SignedTx) -> None:
        try:
            await self.broadcast(signed)
        except RpcError as e:
            if not already_known(e):
                raise
