"""The only package that talks to the chain: JSON-RPC, transactions, the Exchange's ABI."""

from __future__ import annotations

from sdex.chain.abi import ContractAbi, ErrorDecoder
from sdex.chain.exchange import (
    Exchange,
    MatchSkipped,
    OrderInfo,
    OrderState,
    OrderStatus,
    Token,
    deploy,
    load_abi,
)
from sdex.chain.rpc import Rpc
from sdex.chain.tx import Log, Receipt, Sender, SignedTx
from sdex.model import FillEvent

__all__ = [
    "ContractAbi",
    "ErrorDecoder",
    "Exchange",
    "FillEvent",
    "Log",
    "MatchSkipped",
    "OrderInfo",
    "OrderState",
    "OrderStatus",
    "Receipt",
    "Rpc",
    "Sender",
    "SignedTx",
    "Token",
    "deploy",
    "load_abi",
]
