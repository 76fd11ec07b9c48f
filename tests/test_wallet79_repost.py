"""wallet79: an order the wallet signed could not be posted again. ``sdex order`` kept nothing
of what it signed, so an order whose answer was lost, or that a node dropped (a node
restarted without its database, on another machine), could only be signed anew: another
salt, another order. Now ``sdex order`` and the console keep each order they sign
(``$SDEX_WALLET_DIR/orders/<hash>.json``) before posting it, and ``sdex repost HASH --node
URL`` posts the same signed order again (its hash and signature as signed), to a node of the
order's network; a kept file that is not that order, and a node of another network, are
refused in one line, nothing sent.

Real in-process nodes on Hardhat: the first one takes the order and is stopped; the
second, on a database of its own, never had it. Before the fix ``sdex repost`` was no command
(exit 2: failed 1 of 1)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import requests
from click.testing import CliRunner, Result

from sdex.cli import main
from tests.conftest import Chain
from tests.httpproxy import WALLET_TIMEOUT, late_post_proxy
from tests.test_cli_node import ALICE, BOB, key, node, one_line
from tests.test_trust77_listing import _exchange, _token, rewriting_proxy

HASH = re.compile(r"order (0x[0-9a-f]{64})")


def _run(wallet_dir: Path, *args: str, stdin: str | None = None, quick: bool = False) -> Result:
    env = {"COLUMNS": "200", "SDEX_WALLET_DIR": str(wallet_dir)}
    if quick:  # (a POST the test drops: the wallet gives up after WALLET_TIMEOUT, not 10 s)
        env["SDEX_WALLET_TIMEOUT"] = f"{WALLET_TIMEOUT:g}"
    return CliRunner().invoke(main, list(args), input=stdin, env=env)


def _record(url: str, order_hash: str) -> requests.Response:
    return requests.get(f"{url}/v1/orders/{order_hash}", timeout=10)


def _posted_hash(r: Result) -> str:
    assert r.exit_code == 0, r.output
    found = HASH.search(r.output)
    assert found, r.output
    return found[1]


@dataclass(frozen=True)
class Bad:
    name: str
    spoil: Callable[[dict[str, object]], object]
    said: str


def _amount(kept: dict[str, object]) -> None:
    order = kept["order"]
    assert isinstance(order, dict)
    order["makerAmount"] = str(int(order["makerAmount"]) * 2)


def _signature(kept: dict[str, object]) -> None:
    order = kept["order"]
    assert isinstance(order, dict)
    sig = bytearray(bytes.fromhex(order["signature"][2:]))
    sig[5] ^= 1
    order["signature"] = "0x" + sig.hex()


def _deep(kept: dict[str, object]) -> None:
    kept["pair"] = [[[[["WETH/USDC"]]]]]


def _big(kept: dict[str, object]) -> None:
    kept["node"] = "x" * 20_000


def _flipped(config: dict[str, object]) -> None:
    config["pairs"] = ["USDC/WETH"]


BAD = [
    Bad("an amount changed", _amount, "its order hashes to 0x"),
    Bad("a signature changed", _signature, "signature"),
    Bad("nested deep", _deep, "deep"),
    Bad("too big", _big, "over 16384 bytes"),
    Bad("not an object", lambda kept: kept.clear(), "chainId"),
]


def test_an_order_a_node_dropped_is_posted_again_as_signed(chain: Chain, tmp_path: Path) -> None:
    c = chain
    wallet = tmp_path / "wallet"
    (tmp_path / "a").mkdir()
    with node(c, tmp_path / "a") as (first, dep):
        trust = ("--deployment", str(dep))
        gtc = _posted_hash(
            _run(wallet, "order", "buy", "1500", "0.5", "--node", first, "--key", key(c, ALICE),
                 *trust)
        )  # fmt: skip
        console = _run(wallet, "console", "--node", first, "--key", key(c, BOB), *trust,
                       stdin="send_order sell limit 1600 0.25\n")  # fmt: skip
        sold = _posted_hash(console)
        signed = {h: _record(first, h).json()["order"] for h in (gtc, sold)}
        # (no --node: the node it was posted to, which has it)
        out = one_line(_run(wallet, "repost", gtc, *trust).output)
        assert (
            f"posting it again, the same signed order (nothing is signed anew), to {first}" in out
        )
        assert "the node already had this order (status open)" in out, out
    kept = wallet / "orders" / f"{gtc}.json"
    assert json.loads(kept.read_text())["order"] == signed[gtc]

    (tmp_path / "b").mkdir()
    with node(c, tmp_path / "b") as (second, dep):  # (its own database: it never had them)
        trust = ("--deployment", str(dep))
        for h in (gtc, sold):
            assert _record(second, h).status_code == 404
            r = _run(wallet, "repost", h, "--node", second, *trust)
            out = one_line(r.output)
            assert r.exit_code == 0, out
            assert "posting it again, the same signed order" in out, out
            assert f"order {h}" in out and "rests in the book" in out, out
            assert _record(second, h).json()["order"] == signed[h]  # (signature and salt)
        out = one_line(_run(wallet, "repost", gtc, "--node", second, *trust).output)
        assert "the node already had this order" in out, out

        # refused, nothing sent: an order not kept here, a kept file that is not that order,
        # a node of another network than the order's
        other = "0x" + "ab" * 32
        r = _run(wallet, "repost", other, "--node", second, *trust)
        assert r.exit_code == 1 and f"no order {other} is kept in" in one_line(r.output)
        original = kept.read_text()
        for bad in BAD:
            body = json.loads(original)
            bad.spoil(body)
            kept.write_text(json.dumps(body))
            r = _run(wallet, "repost", gtc, "--node", second, *trust)
            out = one_line(r.output)
            assert r.exit_code == 1, (bad.name, out)
            assert f"error: the kept order {kept} cannot be used" in out, (bad.name, out)
            assert bad.said in out, (bad.name, out)
        kept.write_text(original)
        with rewriting_proxy(second) as proxy:
            proxy.rewrite = _exchange("0x" + "12" * 20)
            r = _run(wallet, "repost", gtc, "--node", proxy.url)
            proxy.rewrite = _token("USDC", decimals=18)
            shown = _run(wallet, "repost", gtc, "--node", proxy.url, *trust)
            proxy.rewrite = _flipped
            unlisted = _run(wallet, "repost", gtc, "--node", proxy.url, *trust)
        out = one_line(r.output)
        assert r.exit_code == 1, out
        assert f"refusing to post: order {gtc} was signed for chain 31337, Exchange" in out, out
        assert "nothing was sent" in out, out
        out = one_line(shown.output)
        assert shown.exit_code == 1, out
        assert "error: refusing to post: the node's order_config differs from the deployment" in out
        assert "tokens.USDC.decimals is 18 at the node, 6" in out and "nothing was sent" in out
        assert "posting it again" not in out, out
        out = one_line(unlisted.output)
        assert unlisted.exit_code == 1, out
        said = f"does not list WETH/USDC, the market of order {gtc} (it lists: USDC/WETH)"
        assert said in out, out
        assert "error: refusing to post: the node at" in out and "--pair" not in out, out


def test_an_order_whose_post_was_lost_is_posted_again_by_the_command_it_names(
    chain: Chain, tmp_path: Path
) -> None:
    """A POST that never reached the node (a proxy dropping it: the wallet's timeout run out):
    ``sdex order`` says the node does not hold the order and now names ``sdex repost HASH``,
    which posts that same signed order (it said only that a new ``sdex order`` signs another)."""
    c = chain
    wallet = tmp_path / "wallet"
    with node(c, tmp_path) as (url, dep):
        trust = ("--deployment", str(dep))
        with late_post_proxy(url, hold=False) as (proxied, release):
            r = _run(wallet, "order", "buy", "1400", "0.5", "--node", proxied,
                     "--key", key(c, ALICE), *trust, quick=True)  # fmt: skip
            release.set()
        said = one_line(r.output)
        assert r.exit_code == 1, said
        (lost,) = re.findall(r"does not hold order (0x[0-9a-f]{64})", said)
        assert f"`sdex repost {lost}` posts this one again" in said, said
        assert _record(url, lost).status_code == 404
        kept = json.loads((wallet / "orders" / f"{lost}.json").read_text())["order"]
        r = _run(wallet, "repost", lost, "--node", url, *trust)
        out = one_line(r.output)
        assert r.exit_code == 0 and "rests in the book" in out, out
        assert _record(url, lost).json()["order"] == kept
