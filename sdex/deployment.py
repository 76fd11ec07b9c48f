"""The deployment file (PRODUCT.md section 4): where the Exchange and tokens live, dev keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(".sdex/devnet.json")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    address: str
    decimals: int


@dataclass(frozen=True, slots=True)
class DevAccount:
    address: str
    key: str  # 0x-hex private key


@dataclass(frozen=True, slots=True)
class Deployment:
    chain_id: int
    rpc: str
    exchange: str
    deploy_block: int
    tokens: dict[str, TokenInfo]
    accounts: list[DevAccount] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "rpc": self.rpc,
            "exchange": self.exchange,
            "deployBlock": self.deploy_block,
            "tokens": {
                s: {"address": t.address, "decimals": t.decimals} for s, t in self.tokens.items()
            },
            "accounts": [{"address": a.address, "key": a.key} for a in self.accounts],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Deployment:
        return cls(
            chain_id=int(obj["chainId"]),
            rpc=str(obj["rpc"]),
            exchange=str(obj["exchange"]).lower(),
            deploy_block=int(obj["deployBlock"]),
            tokens={
                str(s): TokenInfo(str(t["address"]).lower(), int(t["decimals"]))
                for s, t in obj["tokens"].items()
            },
            accounts=[
                DevAccount(str(a["address"]).lower(), str(a["key"]))
                for a in obj.get("accounts", [])
            ],
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        tmp.replace(path)  # atomic: a reader never sees half a file

    @classmethod
    def load(cls, path: Path) -> Deployment:
        return cls.from_json(json.loads(Path(path).read_text()))

    def token(self, symbol: str) -> TokenInfo:
        try:
            return self.tokens[symbol.upper()]
        except KeyError:
            raise KeyError(
                f"token {symbol!r} is not in the deployment ({', '.join(self.tokens)})"
            ) from None

    def symbol_of(self, address: str) -> str | None:
        address = address.lower()
        return next((s for s, t in self.tokens.items() if t.address == address), None)
