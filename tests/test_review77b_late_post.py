"""review77b: a node may answer ``POST /v1/orders`` past a wallet's 10 s and still take the
order (its chain read may take up to 8 s, reads76, then its commit wait up to 10 more,
wait74). ``sdex order`` then said only "the node at URL did not answer POST /v1/orders within
10s" (exit 1), without the order's hash: the order rested in the book, and a user trying
again signed a second one. Now the wallet reads the order back by its hash: held, it says so
and shows its status (exit 0); not held, it says that, with the hash to look up.

A real in-process node on Hardhat, behind a real loopback HTTP proxy that passes each
request on at once and holds the node's answer to ``POST /v1/orders`` until the test lets it
go (after the wallet gave up)."""

from __future__ import annotations

import re
from pathlib import Path

import requests
from click.testing import CliRunner

from sdex.cli import main
from tests.conftest import Chain
from tests.httpproxy import WALLET_ENV, WALLET_TIMEOUT, late_post_proxy
from tests.test_cli_node import ALICE, node
from tests.test_user25_cli_errors import key, one_line


def test_an_order_taken_after_the_wallet_gave_up_is_read_back(chain: Chain, tmp_path: Path) -> None:
    with node(chain, tmp_path) as (url, _):
        maker = ["--key", key(chain, ALICE)]
        env = WALLET_ENV  # (the wallet gives up after WALLET_TIMEOUT, not 10 s)
        with late_post_proxy(url, hold=True) as (proxied, release):
            r = CliRunner().invoke(
                main, ["order", "buy", "1500", "0.5", "--node", proxied, *maker], env=env
            )
            release.set()
        said = one_line(r.output)
        assert r.exit_code == 0, r.output
        (order_hash,) = set(re.findall(r"order (0x[0-9a-f]{64})", said))
        bound = f"within {WALLET_TIMEOUT:g}s"
        assert f"did not answer POST /v1/orders {bound}; read back, it holds the order" in said
        # (its repost held too: whether it is stored is not known, wallet78)
        assert "it was taken, but whether it is stored is not known (posted again" in said, said
        assert "status open (read back)" in said, said
        got = requests.get(f"{url}/v1/orders/{order_hash}", timeout=10)
        assert got.status_code == 200 and got.json()["metaData"]["status"] == "open"
        # never taken: said so, with the hash to look up; exit 1
        with late_post_proxy(url, hold=False) as (proxied, release):
            r = CliRunner().invoke(
                main, ["order", "buy", "1400", "0.5", "--node", proxied, *maker], env=env
            )
            release.set()
        said = one_line(r.output)
        assert r.exit_code == 1, r.output
        (lost,) = re.findall(r"does not hold order (0x[0-9a-f]{64})", said)
        assert f"GET /v1/orders/{lost} at the node says so" in said, said
        assert requests.get(f"{url}/v1/orders/{lost}", timeout=10).status_code == 404
