"""user38's trial: a GTC buy matched in full on arrival at node-2 is never gossiped (it never
rested); ``sdex cancel HASH`` at node-1 then said "not known ... (a hash `sdex order`
printed, posted to this node or one of its peers?)", though node-2 is that peer: untrue.
It now says that an order filled on arrival is known only to the node it was posted to, and
how to check it there. Two real nodes on the test devnet, gossiping."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.conftest import Chain
from tests.test_user29_cli_words import cli, key, one_line
from tests.test_web import in_module_loop, two_nodes, url_of

__all__: list[str] = []


@in_module_loop
async def test_cancel_of_an_order_filled_at_another_node_says_where_it_is_known(
    chain: Chain, tmp_path: Path
) -> None:
    c = chain
    async with two_nodes(c, tmp_path) as (n1, n2):
        url1, url2 = url_of(n1), url_of(n2)
        r = await asyncio.to_thread(
            cli, "order", "sell", "2000", "0.1", "--node", url2, "--key", key(c, 4)
        )
        assert r.exit_code == 0, r.output
        r = await asyncio.to_thread(
            cli, "order", "buy", "2000", "0.1", "--node", url2, "--key", key(c, 5)
        )
        assert r.exit_code == 0 and "status filled" in r.output, r.output
        found = re.search(r"^order (0x[0-9a-f]{64})$", r.output, re.M)
        assert found is not None, r.output
        bought = found.group(1)
        r = await asyncio.to_thread(cli, "cancel", bought, "--node", url1, "--key", key(c, 5))
        assert r.exit_code == 1, r.output
        said = one_line(r.output)
        assert "one of its peers?" not in said, said
        # (cancel65: node-1 keeps the cancel, in case the order comes; user81: the wallet's
        # kept order goes with it, as with any cancel)
        assert (
            f"order {bought} is not known to the node at {url1}: nothing was cancelled yet "
            "(the node keeps the signed cancel for a day and takes the order cancelled if "
            "it comes meanwhile; this wallet's kept copy of it is removed: `sdex repost` will "
            "not post it; an order is gossiped to other nodes only once it rests in a "
            "book: one filled on arrival is known only to the node it was posted to; its "
            f"status: GET /v1/orders/{bought} at that node)"
        ) in said, said
