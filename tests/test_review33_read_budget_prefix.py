"""review33: the budget of chain reads counts an IPv6 client's /56 and /48 too.

budget33 keyed a wallet client's bucket by ``client_group`` alone: an IPv6 client by its
/64. A site is routinely given a /56 or a /48 (256 or 65,536 /64s; RFC 6177), and each of
its /64s had a full bucket of its own: a burner flood from one /48 read the chain once per
order at up to 65,536 times the budget's rate (before the fix: every one of 15 posts from
15 /64s of one /48 was read, none throttled). The connection and listing bounds already
count a /64 within its /56 and /48 (``sdex.httpkit.client_path``); the read budget now does
too: each wider network holds at most ``WIDER_READS`` clients' budget."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sdex.httpkit import parse_network
from sdex.node.readbudget import WIDER_READS
from sdex.order import SignedOrder
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node, wait_for
from tests.test_attack30_verdict_gas import burner
from tests.test_budget33_chain_reads import BURST, TINY, contract_ask


async def _post(session: aiohttp.ClientSession, base: str, signed: SignedOrder, client: str) -> int:
    headers = {"X-Forwarded-For": client}
    async with session.post(base + "/v1/orders", json=dict(signed.to_json()), headers=headers) as r:
        await r.read()
        return r.status


async def test_a_48s_many_64s_share_one_budget(chain: Chain, tmp_path: Path) -> None:
    c = chain
    w = burner(c)
    cfg = node_config(
        c,
        tmp_path / "n.db",
        chain_read_limit=TINY,
        trusted_proxies=(parse_network("127.0.0.1"),),
    )
    room = WIDER_READS * BURST  # what the /48 holds in all
    async with running_node(cfg) as (node, api), aiohttp.ClientSession() as session:
        await wait_for(node.mirror_ready)
        reads = node.intake.read
        codes = [
            await _post(session, api.base, contract_ask(c, w), f"2001:db8:7:{n:x}::1")
            for n in range(room + 3)  # each from a /64 of its own, one /48
        ]
        assert codes == [400] * room + [429] * 3, codes
        assert node.intake.read - reads == room
        # a client of another /48 keeps its own budget
        assert await _post(session, api.base, contract_ask(c, w), "2001:db8:8::1") == 400
