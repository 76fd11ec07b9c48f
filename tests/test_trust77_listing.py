"""trust77: a wallet signed whatever its node's ``order_config`` named (left77's known limit):
told USDC has 18 decimals, ``sdex order buy 1500 0.5`` printed "750 USDC" and signed 750·10^18
base units, an order that could give up all the USDC the wallet holds and has approved; a
node naming another token contract, or another Exchange or chain, was signed for as well.
Now ``sdex order``, ``sdex cancel`` and the console check the listing against the deployment
file (``--deployment``, else ``.sdex/devnet.json`` when it is there) and the chain (``--rpc``)
before anything is signed: a difference is one ``error:`` line naming the field, the node's
value and the trusted one (exit 1); with neither, a warning says the listing is unchecked.

A real in-process node on Hardhat, behind a real loopback HTTP proxy that rewrites its
``GET /v1/order_config`` answer (every other request passed on as it is). Before the fix:
the file cases (read from the default path) signed and posted the order (exit 0); the chain
cases' ``--rpc`` was no option of ``sdex order`` (exit 2), and the console signed and posted."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from aiohttp import web
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from sdex.chain import deploy
from sdex.cli import main
from sdex.client import NodeClient, OrderConfig
from sdex.console import WalletShell
from sdex.order import to_checksum
from sdex.wallet import parse_pair
from sdex.wallettrust import ListingDiffers, Trusted, check_listing
from tests.conftest import Chain
from tests.fakenode import DOMAIN, USDC, WETH, order_config
from tests.httpproxy import passed_on, served_in_thread
from tests.test_cli_node import ALICE, key, node, one_line

Rewrite = Callable[[dict[str, Any]], None]


@dataclass
class Proxy:
    url: str
    rewrite: Rewrite | None = None


def _same(config: dict[str, Any]) -> None:
    return None


@contextlib.contextmanager
def rewriting_proxy(upstream: str) -> Iterator[Proxy]:
    """A loopback HTTP proxy to ``upstream`` whose ``GET /v1/order_config`` answer is
    rewritten by ``proxy.rewrite`` (in place, on the parsed JSON); all else passed on."""
    proxy = Proxy("")

    async def handle(request: web.Request) -> web.StreamResponse:
        status, ctype, answer = await passed_on(upstream, request)
        if request.path == "/v1/order_config" and status == 200 and proxy.rewrite is not None:
            config = json.loads(answer)
            proxy.rewrite(config)
            answer = json.dumps(config).encode()
        return web.Response(body=answer, status=status, headers={"Content-Type": ctype})

    with served_in_thread(handle) as url:
        proxy.url = url
        yield proxy


def _token(sym: str, **changes: object) -> Rewrite:
    def rewrite(config: dict[str, Any]) -> None:
        config["tokens"][sym].update(changes)

    return rewrite


def _swap(config: dict[str, Any]) -> None:
    t = config["tokens"]
    t["WETH"], t["USDC"] = t["USDC"], t["WETH"]


def _exchange(address: str) -> Rewrite:
    def rewrite(config: dict[str, Any]) -> None:
        config["exchange"] = config["domain"]["verifyingContract"] = address

    return rewrite


def _chain_id(config: dict[str, Any]) -> None:
    config["chainId"] = config["domain"]["chainId"] = 1


@dataclass(frozen=True)
class Case:
    name: str
    rewrite: Rewrite
    file_said: str
    chain_said: str | None  # (None: the chain cannot tell; only the file can)
    tokens: bool  # (a token's: a cancel, which signs no token, checks it against the file only)


def _cases(c: Chain, copycat: str, other_exchange: str) -> list[Case]:
    usdc, weth = to_checksum(c.usdc.address), to_checksum(c.weth.address)
    alice = to_checksum(c.address(ALICE))
    file = "in the deployment file .sdex/devnet.json"
    on = f"on the chain at {c.deployment.rpc}"
    return [
        Case("decimals", _token("USDC", decimals=18),
             f"tokens.USDC.decimals is 18 at the node, 6 {file}",
             f"tokens.USDC ({usdc}).decimals is 18 at the node, 6 (its decimals()) {on}", True),
        Case("address: a copycat token", _token("USDC", address=copycat.lower()),
             f"tokens.USDC.address is {to_checksum(copycat)} at the node, {usdc} {file}",
             None, True),
        Case("address: no token", _token("USDC", address=alice.lower()),
             f"tokens.USDC.address is {alice} at the node, {usdc} {file}",
             f"tokens.USDC ({alice}).decimals is 6 at the node, unread", True),
        Case("symbol: WETH and USDC swapped", _swap,
             f"the symbol of token {usdc} is WETH at the node, USDC {file}",
             f"tokens.WETH ({usdc})'s symbol is WETH at the node, 'USDC' (its symbol()) {on}",
             True),
        Case("exchange: another Exchange", _exchange(other_exchange.lower()),
             f"exchange is {to_checksum(other_exchange)} at the node, "
             f"{to_checksum(c.deployment.exchange)} {file}", None, False),
        Case("exchange: a token", _exchange(weth.lower()),
             f"exchange is {weth} at the node, {to_checksum(c.deployment.exchange)} {file}",
             f"exchange is {weth} at the node, a contract there that is not an SDEX Exchange "
             f"of this chain {on}", False),
        Case("chain id", _chain_id, f"chainId is 1 at the node, 31337 {file}",
             f"chainId is 1 at the node, 31337 {on}", False),
    ]  # fmt: skip


def orders_of(url: str, maker: str) -> list[object]:
    """The records of ``maker``'s orders the node at ``url`` lists (its first page)."""
    r = requests.get(f"{url}/v1/orders", params={"maker": maker}, timeout=10)
    r.raise_for_status()
    records = r.json()["records"]
    assert isinstance(records, list)
    return records


def _run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env={"COLUMNS": "200"})


REFUSED = "error: refusing to sign: the node's order_config differs from"


def test_a_node_misstating_its_listing_gets_nothing_signed(
    chain: Chain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = chain
    copycat = deploy(c.sender(3), "TestToken", "USD Coin", "USDC", 6)
    other_exchange = deploy(c.sender(3), "Exchange")
    honest = tmp_path / "honest"  # (the wallet's directory: the default file there)
    (honest / ".sdex").mkdir(parents=True)
    c.deployment.save(honest / ".sdex" / "devnet.json")
    bare = tmp_path / "bare"  # (no deployment file)
    bare.mkdir()
    sources = {"file": (honest, ()), "chain": (bare, ("--rpc", c.deployment.rpc))}
    with node(c, tmp_path) as (url, _), rewriting_proxy(url) as proxy:
        wallet = ("--node", proxy.url, "--key", key(c, ALICE))
        alice = c.address(ALICE)
        for case in _cases(c, copycat, other_exchange):
            proxy.rewrite = case.rewrite
            for source, (cwd, extra) in sources.items():
                said = case.file_said if source == "file" else case.chain_said
                if said is None:
                    continue
                monkeypatch.chdir(cwd)
                runs = [
                    ("order", _run("order", "buy", "1500", "0.5", *wallet, *extra)),
                    ("console", _run("console", *wallet, *extra,
                                     stdin="send_order buy limit 1500 0.5\n")),
                ]  # fmt: skip
                if source == "file" or not case.tokens:
                    hash_hex = "0x" + secrets.token_hex(32)
                    runs.append(("cancel", _run("cancel", hash_hex, *wallet, *extra)))
                for command, r in runs:
                    where = (case.name, source, command)
                    out = one_line(r.output)
                    assert r.exit_code == 1, (where, r.output)
                    assert REFUSED in out and said in out, (where, said, out)
                    assert "nothing was signed or sent" in out, (where, out)
                    assert "signed by" not in out, (where, out)
                    assert "cancelled" not in out, (where, out)
                assert orders_of(url, alice) == [], case.name

        # a console shell driven without its start checks the listing at its first command
        proxy.rewrite = _token("USDC", decimals=18)
        err = io.StringIO()
        with NodeClient(proxy.url) as client:
            shell = WalletShell(
                client, c.keys[ALICE], "WETH/USDC", out=Console(file=io.StringIO()),
                err=Console(file=err, width=400), stdin=io.StringIO(),
                deployment_path=honest / ".sdex" / "devnet.json", deployment_given=True,
            )  # fmt: skip
            shell.onecmd("send_order buy limit 1500 0.5")
        assert REFUSED in one_line(err.getvalue()), err.getvalue()
        assert orders_of(url, alice) == []

        # the honest listing: signed and posted as before, said once what was checked
        proxy.rewrite = _same
        checked = [
            (honest, (), None),
            (bare, ("--rpc", c.deployment.rpc), "note: the token addresses are the node's"),
            (bare, (), "warning: the node's order_config (its chain id, Exchange, token "
                       "addresses and decimals) is signed as the node says it, unchecked"),
            (bare, ("--deployment", str(honest / ".sdex" / "devnet.json")), None),
        ]  # fmt: skip
        for n, (cwd, extra, note) in enumerate(checked):
            monkeypatch.chdir(cwd)
            r = _run("order", "buy", str(1500 - n), "0.5", *wallet, *extra)
            out = one_line(r.output)
            assert r.exit_code == 0, (extra, r.output)
            assert "signed by" in out, out
            assert "error" not in out, out
            if note is None:
                assert "warning" not in out and "note:" not in out, out
            else:
                assert out.count(note) == 1, out
        assert len(orders_of(url, alice)) == len(checked)
        # a --deployment named that is not there is refused (exit 2), not read as none
        monkeypatch.chdir(bare)
        r = _run("order", "buy", "1400", "0.5", *wallet, "--deployment", "missing.json")
        assert r.exit_code == 2, r.output
        assert "no deployment file at missing.json" in one_line(r.output), r.output


# -- the file's check, over any one field misstated (no node: the listing as parsed) -----------

_FIELDS = ("chainId", "exchange", "address", "decimals", "symbol")


@settings(max_examples=200, deadline=None)
@given(
    field=st.sampled_from(_FIELDS),
    sym=st.sampled_from(("WETH", "USDC")),
    number=st.integers(min_value=0, max_value=77),
    address=st.binary(min_size=20, max_size=20),
)
def test_any_one_field_misstated_is_refused_naming_it(
    field: str, sym: str, number: int, address: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    obj = order_config(DOMAIN, WETH, USDC)
    path = tmp_path_factory.mktemp("net") / "devnet.json"
    network = {"chainId": 31337, "rpc": "http://127.0.0.1:1", "exchange": DOMAIN.verifying_contract,
               "deployBlock": 0, "tokens": copy.deepcopy(obj["tokens"])}  # fmt: skip
    path.write_text(json.dumps(network))
    trusted = Trusted(path, True, None)
    token = obj["tokens"][sym]
    other = "0x" + address.hex()
    if field == "chainId":
        obj["chainId"] = obj["domain"]["chainId"] = number if number != 31337 else 1
    elif field == "exchange":
        changed = other != DOMAIN.verifying_contract
        obj["exchange"] = obj["domain"]["verifyingContract"] = other if changed else WETH
    elif field == "address":
        token["address"] = other if other not in (WETH, USDC) else "0x" + "33" * 20
    elif field == "decimals":
        token["decimals"] = number if number != token["decimals"] else number + 1
    else:
        obj["tokens"]["WETH"], obj["tokens"]["USDC"] = obj["tokens"]["USDC"], obj["tokens"]["WETH"]
    config = OrderConfig.from_json(obj)
    err = io.StringIO()
    with pytest.raises(ListingDiffers) as refused:
        check_listing(config, trusted, Console(file=err), parse_pair("WETH/USDC", config))
    said = str(refused.value)
    named = {
        "chainId": "chainId is",
        "exchange": "exchange is",
        "symbol": "the symbol of token",
        "address": f"tokens.{sym}.address is",
        "decimals": f"tokens.{sym}.decimals is",
    }
    assert named[field] in said, (field, said)
    assert err.getvalue() == ""
    # the listing as the file has it: no refusal, nothing said
    check_listing(
        OrderConfig.from_json(order_config(DOMAIN, WETH, USDC)), trusted, Console(file=err)
    )
    assert err.getvalue() == ""
