"""A soft cancel signed by another wallet than the order's maker (user28's trial: a trader
with two dev accounts cancels with the wrong ``--key``): ``sdex cancel`` and the console said
"Validation Failed (HTTP 400, code 100): signature: not signed by the order's maker", naming
neither the maker nor the key used. It now says who may cancel the order and whose key this
is, as ``cancel --onchain`` does. Against a real in-process node on the test devnet."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from sdex.cli import main
from sdex.order import address_of, to_checksum
from tests.conftest import Chain
from tests.test_cli_node import node
from tests.test_user25_cli_errors import key, one_line


def test_a_cancel_with_another_key_names_the_maker_and_the_key(
    chain: Chain, tmp_path: Path
) -> None:
    with node(chain, tmp_path) as (url, _):
        run = CliRunner().invoke
        env = {"COLUMNS": "200"}
        r = run(
            main, ["order", "buy", "1500", "0.5", "--node", url, "--key", key(chain, 1)], env=env
        )
        assert r.exit_code == 0, r.output
        (order_hash,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        maker, other = address_of(chain.keys[1]), address_of(chain.keys[2])
        said = (
            f"only the order's maker {to_checksum(maker)} can cancel it; this key is "
            f"{to_checksum(other)}: nothing was cancelled"
        )
        r = run(main, ["cancel", order_hash, "--node", url, "--key", key(chain, 2)], env=env)
        assert r.exit_code == 1 and said in one_line(r.output), r.output
        script = f"cancel {order_hash}\n"
        r = run(main, ["console", "--node", url, "--key", key(chain, 2)], input=script, env=env)
        assert r.exit_code == 1 and said in one_line(r.output), r.output
        # the maker's own cancel still goes
        r = run(main, ["cancel", order_hash, "--node", url, "--key", key(chain, 1)], env=env)
        assert r.exit_code == 0 and "soft-cancelled at the node" in r.output, r.output


def test_a_second_cancel_says_the_order_was_already_cancelled(chain: Chain, tmp_path: Path) -> None:
    """user29's trial: ``sdex cancel`` of an order it had soft-cancelled already said
    "soft-cancelled at the node: status cancelled" again, as if it had just cancelled it."""
    with node(chain, tmp_path) as (url, _):
        run = CliRunner().invoke
        env = {"COLUMNS": "200"}
        wallet = ["--node", url, "--key", key(chain, 1)]
        r = run(main, ["order", "buy", "1500", "0.5", *wallet], env=env)
        assert r.exit_code == 0, r.output
        (order_hash,) = re.findall(r"order (0x[0-9a-f]{64})", r.output)
        r = run(main, ["cancel", order_hash, *wallet], env=env)
        assert r.exit_code == 0 and "soft-cancelled at the node" in r.output, r.output
        r = run(main, ["cancel", order_hash, *wallet], env=env)
        said = f"order {order_hash} was already cancelled at the node: nothing more to cancel"
        assert r.exit_code == 0 and said in one_line(r.output), r.output
        assert "soft-cancelled" not in r.output
