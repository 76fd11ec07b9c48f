"""``sdex cancel --onchain`` tells one story (ux37): after "cancelled on chain in tx ...", the
node's line read "was already cancelled at the node: nothing more to cancel", as if something
had gone wrong (the node had seen the chain's cancel first). Now the node's line says the order
is cancelled there too, whether the node saw the chain's event or took the signed cancel.
Against a real in-process node on the test devnet."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import Chain
from tests.test_cli_node import ALICE, cli, key, node, one_line


def test_cancel_onchain_says_one_story(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, deployment):
        r = cli("order", "sell", "3000", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        (order_hash,) = set(re.findall(r"0x[0-9a-f]{64}", r.output))
        args = ["cancel", order_hash, "--node", url, "--key", key(c, ALICE), "--onchain",
                "--deployment", str(deployment)]  # fmt: skip
        for first in (True, False):
            r = cli(*args)
            assert r.exit_code == 0, r.output
            said = one_line(r.output)
            if first:
                assert re.search(
                    rf"order {order_hash} cancelled on chain in tx 0x[0-9a-f]{{64}}", said
                )
            else:
                assert (
                    f"order {order_hash} is already cancelled on chain: no transaction sent" in said
                )
            assert f"the node at {url} has it cancelled too" in said, said
            for wrong in ("nothing more to cancel", "was already cancelled at the node"):
                assert wrong not in said, said
            assert len(r.output.strip().splitlines()) == 2, r.output
