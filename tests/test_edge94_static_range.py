"""edge94: the page's files are served whole, a ``Range`` ignored (RFC 9110 lets a server).

aiohttp's ranges answered ``Range: bytes=-0`` (a suffix of no bytes: unsatisfiable, RFC 9110
14.1.2) 206 with the whole file, and an unsatisfiable range or one it does not parse (two
ranges; another unit, which a server must ignore) 416 with an empty body under the file's
content type. The files are small: each is now answered 200, whole, ``Accept-Ranges: none``;
a conditional request is still answered 304.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from sdex.web import STATIC
from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

RANGES = ["bytes=-0", "bytes=0-9", "bytes=-10", "bytes=99999999-", "bytes=0-1,4-5", "items=0-1"]


async def test_a_range_on_the_pages_files_gets_the_whole_file(chain: Chain, tmp_path: Path) -> None:
    whole = (STATIC / "app.js").read_bytes()
    async with (
        running_node(node_config(chain, tmp_path / "n.db")) as (_node, api),
        aiohttp.ClientSession() as s,
    ):
        wrong: dict[str, object] = {}
        for path in ["/static/app.js", "/", "/static/style.css"]:
            for rng in RANGES:
                async with s.get(api.base + path, headers={"Range": rng}) as r:
                    body = await r.read()
                    got = (r.status, r.headers.get("Accept-Ranges"), r.headers.get("Content-Range"))
                    if got != (200, "none", None) or not body:
                        wrong[f"{path} {rng}"] = (*got, len(body))
                    elif path == "/static/app.js" and body != whole:
                        wrong[f"{path} {rng}"] = ("not the file", len(body))
        assert wrong == {}
        # If-Range too (a validator the file has: no range either way)
        async with s.get(api.base + "/static/app.js") as r:
            etag = r.headers["ETag"]
            assert r.status == 200 and await r.read() == whole
        async with s.get(
            api.base + "/static/app.js", headers={"Range": "bytes=0-9", "If-Range": etag}
        ) as r:
            assert (r.status, await r.read()) == (200, whole)
        # a conditional request: still 304
        async with s.get(api.base + "/static/app.js", headers={"If-None-Match": etag}) as r:
            assert r.status == 304 and await r.read() == b""
