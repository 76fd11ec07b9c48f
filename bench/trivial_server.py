#!/usr/bin/env python3
"""The reference for bench/node.py's HTTP phase: the least an aiohttp order endpoint does.

``POST /v1/orders`` reads the body, parses it as JSON and answers 201 with its ``salt``:
no validation, no storage. Run as its own process: ``trivial_server.py PORT``.
"""

from __future__ import annotations

import json
import sys

from aiohttp import web


async def post_order(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    return web.json_response({"salt": body.get("salt")}, status=201)


def main() -> None:
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/v1/orders", post_order)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
