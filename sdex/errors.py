"""SDEX's exception tree. Every error SDEX raises on purpose derives from ``SdexError``.

    SdexError
    ├── OrderParseError (ValueError)      an order JSON or field is malformed
    ├── SignatureError (ValueError)       signature bytes are malformed or high-s
    ├── JsonLimitError (ValueError)       JSON too large, too deep, not UTF-8 or not JSON
    ├── ChainError                        talking to the chain failed
    │   ├── RpcError                      the JSON-RPC endpoint answered with an error
    │   ├── ContractRevert                a call or transaction reverted
    │   │   └── ExchangeError             decoded Exchange custom error (name + args)
    │   └── TransactionFailed             a mined transaction has status 0
    ├── DevnetError                       the local Hardhat devnet could not start or deploy
    └── PortInUseError (OSError)          a node's --port is taken (checked before it starts)

A rejected order is data, not an exception: see ``sdex.ingest`` rejection codes.
"""

from __future__ import annotations

from dataclasses import dataclass


class SdexError(Exception):
    """Root of every error SDEX raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, in the 0x SRA ``validationErrors`` shape."""

    field: str
    code: int
    reason: str

    def to_json(self) -> dict[str, object]:
        return {"field": self.field, "code": self.code, "reason": self.reason}


class FieldCode:
    """SRA v4 validation error codes for ``validationErrors[].code``."""

    REQUIRED_FIELD = 1000
    INCORRECT_FORMAT = 1001
    INVALID_ADDRESS = 1002
    ADDRESS_NOT_SUPPORTED = 1003
    VALUE_OUT_OF_RANGE = 1004
    INVALID_SIGNATURE_OR_HASH = 1005
    UNSUPPORTED_OPTION = 1006


class OrderParseError(SdexError, ValueError):
    """An order JSON (or one of its fields) is malformed; ``errors`` says which field and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))


class SignatureError(SdexError, ValueError):
    """Signature bytes that no wallet produces: wrong length, bad v, or high-s."""


class ChainError(SdexError):
    """Talking to the chain failed."""


class RpcError(ChainError):
    """The JSON-RPC endpoint answered with an error object."""

    def __init__(self, code: int, message: str, data: object = None) -> None:
        self.code = code
        self.message = message
        self.data = data
        super().__init__(f"JSON-RPC error {code}: {message}")


class RpcTimeout(RpcError):
    """No complete answer within the call's deadline (connect, headers and body together):
    the request may have been sent, its fate unknown."""

    def __init__(self, url: str, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(0, f"{url} answered too slowly: no complete answer within {seconds:g}s")

    def __str__(self) -> str:
        # (no "JSON-RPC error 0: ": no error object came, nothing did; user44)
        return self.message


class ContractRevert(ChainError):
    """A call or transaction reverted; ``data`` is the raw revert data (may be empty)."""

    def __init__(self, data: bytes, message: str = "") -> None:
        self.data = data
        super().__init__(message or f"reverted with data {shown_data(data)}")


class ExchangeError(ContractRevert):
    """A decoded custom error of the Exchange (or a token): its name and arguments."""

    def __init__(self, data: bytes, name: str, args: dict[str, object]) -> None:
        self.name = name
        self.args_by_name = args
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        super().__init__(data, f"{name}({shown})")


class TransactionFailed(ChainError):
    """A mined transaction has status 0."""

    def __init__(self, tx_hash: str, revert: ContractRevert | None = None) -> None:
        self.tx_hash = tx_hash
        self.revert = revert
        super().__init__(f"transaction {tx_hash} failed" + (f": {revert}" if revert else ""))


class DevnetError(SdexError):
    """The local Hardhat devnet could not start or deploy."""


class PortInUseError(SdexError, OSError):
    """Something already listens on the address a node was asked to serve on."""


SHOWN_DATA_BYTES = 128
"""The most bytes of a revert's data (or of a bytes argument of a decoded error) an error's
message shows, as hex (256 characters), then their length: a hostile endpoint's megabyte of
revert data was otherwise in every log line and error that named it (small94)."""


def shown_data(data: bytes) -> str:
    """``data`` as ``0x``-hex, its first ``SHOWN_DATA_BYTES`` only and its length if longer."""
    if len(data) <= SHOWN_DATA_BYTES:
        return "0x" + data.hex()
    return f"0x{data[:SHOWN_DATA_BYTES].hex()}... ({len(data)} bytes)"


def _show(value: object) -> str:
    if isinstance(value, bytes):
        return shown_data(value)
    return str(value)[:1000]


class JsonLimitError(SdexError, ValueError):
    """A JSON document that is too large, too deep, not UTF-8 or not JSON (``sdex.jsonio``)."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_large = too_large
