"""attack93: a ``/v1/`` GET route's parameter given twice is a 400 naming it.

Before, every route read the first value and ignored the rest: ``?maker=A&maker=B`` listed
A's orders only (a client asking for both was answered as if for one), ``?page=1&page=2``
page 1. Now: the SRA 400, field code 1001, "NAME is given more than once".
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

A = "0x" + "ab" * 20
B = "0x" + "cd" * 20
H = "0x" + "11" * 32

REPEATED: list[tuple[str, str]] = [
    # (path and query, the parameter named): each read one value and ignored the other
    (f"/v1/orders?maker={A}&maker={B}", "maker"),
    ("/v1/orders?page=1&page=2", "page"),
    ("/v1/orders?perPage=1&status=open&perPage=1000", "perPage"),
    ("/v1/orders?status=open&status=filled", "status"),
    (f"/v1/orders?takerAddress={A}&takerAddress={B}", "takerAddress"),
    ("/v1/orders?cursor=x&cursor=y", "cursor"),
    (f"/v1/fills?orderHash={H}&orderHash={H}", "orderHash"),
    ("/v1/fills?page=2&page=1", "page"),
    (f"/v1/orderbook?baseToken={A}&quoteToken={B}&baseToken={B}", "baseToken"),
    (f"/v1/depth?baseToken={A}&quoteToken={B}&quoteToken={A}", "quoteToken"),
    (f"/v1/orders/{H}?x=1&x=2", "x"),
    ("/v1/order_config?a=&a=", "a"),
]


async def test_a_parameter_given_twice_is_a_400_naming_it(chain: Chain, tmp_path: Path) -> None:
    async with running_node(node_config(chain, tmp_path / "n.db")) as (_node, api):
        wrong: dict[str, object] = {}
        for path, name in REPEATED:
            async with api.session.get(api.base + path) as r:
                status, body = r.status, await r.json()
            want = {
                "code": 100,
                "reason": "Validation Failed",
                "validationErrors": [
                    {"field": name, "code": 1001, "reason": f"{name} is given more than once"}
                ],
            }
            if status != 400 or body != want:
                wrong[path] = (status, body)
        # one filter under its two names (SRA v3's and ours): two addresses were one, the
        # second's (``?taker=A&takerAddress=B`` listed B's only)
        async with api.session.get(f"{api.base}/v1/orders?taker={A}&takerAddress={B}") as r:
            status, body = r.status, await r.json()
        if status != 400 or body["validationErrors"] != [
            {"field": "takerAddress", "code": 1001,
             "reason": "taker and takerAddress name different addresses"}
        ]:  # fmt: skip
            wrong["taker and takerAddress"] = (status, body)
        assert wrong == {}
        # each once (and the two names agreeing, in any case): answered as before
        for path in (
            "/v1/orders?page=1&perPage=5&status=open",
            f"/v1/fills?orderHash={H}",
            f"/v1/orders?taker={A}&takerAddress={A.upper().replace('0X', '0x')}",
        ):
            async with api.session.get(api.base + path) as r:
                assert r.status == 200, await r.text()
