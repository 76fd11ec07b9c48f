"""``sdex balance`` (user63's trial: the web page said a wallet's funds since user62, the
command line had no way to see them: a wallet learnt only from ``sdex order``'s note, after
signing, that its balance or approval fell short). For each token: what the wallet holds,
what it lets the Exchange take, what its open orders at the node still offer, and what is
free for a new order, as the page's funds line says them. Against a real in-process
node on the session's Hardhat devnet."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from sdex.order import address_of, to_checksum
from tests.conftest import Chain
from tests.fakenode import fake_node, meta, order_config, run_cli
from tests.test_cli_node import cli, key, node, one_line

ME, OTHER = 5, 6
E18, E6 = 10**18, 10**6
UINT256_MAX = 2**256 - 1


def figures(url: str, deployment: Path, *who: str, pair: str | None = None) -> dict[str, Any]:
    more = ["--pair", pair] if pair else []
    r = cli("balance", "--node", url, "--deployment", str(deployment), "--json", *who, *more)
    assert r.exit_code == 0, r.output
    body: dict[str, Any] = json.loads(r.output)
    return body


def token(body: dict[str, Any], sym: str) -> dict[str, int]:
    return {k: int(v) for k, v in body["tokens"][sym].items() if k != "address"}


def test_balance_says_held_approved_in_open_orders_and_free(chain: Chain, tmp_path: Path) -> None:
    c = chain
    me = c.address(ME)
    ex = c.exchange.address
    with node(c, tmp_path) as (url, deployment):
        mine = ["--key", key(c, ME)]
        weth, usdc = c.weth.balance_of(me), c.usdc.balance_of(me)
        body = figures(url, deployment, *mine)
        assert body["address"] == me and body["chainId"] == c.deployment.chain_id
        assert body["openOrders"] == 0 and body["nodeChainStatus"] == "ok"
        assert token(body, "WETH") == {
            "decimals": 18, "balance": weth, "allowance": UINT256_MAX, "held": 0, "free": weth,
        }  # fmt: skip
        assert token(body, "USDC")["free"] == usdc == token(body, "USDC")["balance"]

        # two resting orders: a sell holds its WETH, a buy its USDC
        r = cli("order", "sell", "99999", "2", "--node", url, *mine)
        assert r.exit_code == 0 and "rests in the book" in r.output, r.output
        (sell,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        r = cli("order", "buy", "1000", "1", "--node", url, *mine)
        assert r.exit_code == 0 and "rests in the book" in r.output, r.output
        body = figures(url, deployment, *mine)
        assert body["openOrders"] == 2
        assert token(body, "WETH")["held"] == 2 * E18
        assert token(body, "WETH")["free"] == weth - 2 * E18
        assert token(body, "USDC")["held"] == 1000 * E6
        assert token(body, "USDC")["free"] == usdc - 1000 * E6

        # another wallet takes half the sell: what is left of it is held, the rest was paid
        r = cli("order", "buy", "99999", "0.5", "--node", url, "--key", key(c, OTHER))
        assert r.exit_code == 0 and "settled on chain" in r.output, r.output
        assert c.weth.balance_of(me) == weth - E18 // 2
        body = figures(url, deployment, *mine)
        assert token(body, "WETH")["balance"] == weth - E18 // 2
        assert token(body, "WETH")["held"] == 3 * E18 // 2
        assert token(body, "WETH")["free"] == weth - 2 * E18

        # a smaller approval: free is the smaller of balance and approval, less the held
        c.weth.approve(c.sender(ME), ex, 4 * E18)
        try:
            body = figures(url, deployment, *mine, pair="WETH/USDC")
            assert token(body, "WETH")["allowance"] == 4 * E18
            assert token(body, "WETH")["free"] == 4 * E18 - 3 * E18 // 2
            # the table, said in words, by address as well as by key
            r = cli("balance", "--node", url, "--deployment", str(deployment), "--address", me)
            assert r.exit_code == 0, r.output
            out = one_line(r.output)
            assert f"funds of {to_checksum(me)} at block " in out, out
            assert re.search(r"│ WETH │ [0-9.]+ │ 4 │ 1\.5 │ 2\.5 │", out), out
            assert re.search(r"│ USDC │ [0-9.]+ │ unlimited │ 1000 │ [0-9.]+ │", out), out
            # nothing approved: said how to sell it
            c.weth.approve(c.sender(ME), ex, 0)
            r = cli("balance", "--node", url, "--deployment", str(deployment), *mine)
            assert r.exit_code == 0, r.output
            said = (
                f"WETH: nothing approved: approve the Exchange {to_checksum(ex)} to spend WETH "
                "to sell it"
            )
            assert said in one_line(r.output), r.output
        finally:
            c.weth.approve(c.sender(ME), ex, UINT256_MAX)

        # a cancelled order holds nothing
        r = cli("cancel", sell, "--node", url, *mine)
        assert r.exit_code == 0, r.output
        body = figures(url, deployment, *mine)
        assert body["openOrders"] == 1 and token(body, "WETH")["held"] == 0


def test_balance_refuses_what_names_no_wallet_or_no_chain(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, deployment):
        r = cli("balance", "--node", url, "--deployment", str(deployment))
        assert r.exit_code == 2 and "say whose funds: --key HEX" in one_line(r.output), r.output
        r = cli("balance", "--node", url, "--address", "0x12")
        said = "--address must be 0x and 40 hex digits (as `sdex order` says `signed by`)"
        assert r.exit_code == 2 and said in one_line(r.output), r.output
        me = ["--key", key(c, ME)]
        r = cli("balance", "--node", url, "--pair", "USDC/WETH", *me)
        assert r.exit_code == 2 and "use --pair WETH/USDC" in one_line(r.output), r.output
        # the node's URL given as the chain's: said so, not "HTTPError"
        r = cli("balance", "--node", url, "--rpc", url, *me)
        said = f"{url} is not a chain's JSON-RPC endpoint: it answered HTTP 405"
        assert r.exit_code == 1 and said in one_line(r.output), r.output
        assert address_of(c.keys[ME]) == c.address(ME)


def test_cancel_onchain_with_a_nodes_url_as_rpc_says_what_it_is(
    chain: Chain, tmp_path: Path
) -> None:
    """user63's trial: ``sdex cancel --onchain --rpc <the node's URL>`` (the URL the user had
    at hand) said "cannot reach the JSON-RPC endpoint ...: HTTPError": the endpoint was
    reached, and answered, as a node does, 405."""
    c = chain
    with node(c, tmp_path) as (url, _):
        me = ["--node", url, "--key", key(c, ME)]
        r = cli("order", "buy", "1000", "1", *me)
        assert r.exit_code == 0, r.output
        (order_hash,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        r = cli("cancel", order_hash, "--onchain", "--rpc", url, *me)
        said = (
            f"error: {url} is not a chain's JSON-RPC endpoint: it answered HTTP 405 Method Not "
            "Allowed (--rpc takes the chain's URL, e.g. the deployment file's rpc, not a node's)"
        )
        assert r.exit_code == 1 and said in one_line(r.output), r.output


def test_balance_counts_only_the_wallets_open_orders_a_node_lists(chain: Chain) -> None:
    """A node's listing is hostile until checked: a record of another maker, or of another
    status than asked, is not the wallet's open order; one order listed under a made-up hash
    (to count it twice) is refused, not summed."""
    c = chain
    me = c.address(ME)
    mine = c.sign(c.order(ME, c.weth, 2 * E18, c.usdc, 4000 * E6))
    theirs = c.sign(c.order(OTHER, c.weth, 5 * E18, c.usdc, 9000 * E6))
    closed = c.sign(c.order(ME, c.weth, 7 * E18, c.usdc, 9000 * E6))

    def record(s: Any, status: str, made_up: str | None = None) -> dict[str, Any]:
        m = {**meta(s, s.order.maker_amount, status), "remainingMakerAmount": "1" + "0" * 18}
        if made_up is not None:
            m["orderHash"] = made_up
        return {"order": s.to_json(), "metaData": m}

    with fake_node() as fake:
        fake.config = order_config(c.domain, c.weth.address, c.usdc.address)
        rpc = ["--rpc", c.deployment.rpc]
        fake.order_list = [record(mine, "open"), record(theirs, "open"), record(closed, "filled")]
        r = run_cli("balance", "--node", fake.url, "--address", me, "--json", *rpc)
        assert r.exit_code == 0, r.output
        body = json.loads(r.output)
        assert body["openOrders"] == 1 and body["tokens"]["WETH"]["held"] == str(E18), body
        assert fake.queries[0]["maker"] == me and fake.queries[0]["status"] == "open"

        fake.order_list.append(record(mine, "open", made_up="0x" + "ab" * 32))
        r = run_cli("balance", "--node", fake.url, "--address", me, *rpc)
        said = "error: the node's open orders misstate the hash of an order"
        assert r.exit_code == 1 and said in one_line(r.output), r.output
