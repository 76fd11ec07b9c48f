"""The HTTP statuses that redirect: no client here follows one (a chain's answer, a peer's,
a WebSocket upgrade's: ``sdex.chain.rpc.not_followed``, ``sdex.wsredirects``).

A leaf without aiohttp (import91): the sync JSON-RPC client (``sdex.chain.lean``,
``sdex.chain.rpc``), and so every wallet command, checked these statuses through
``sdex.wsredirects``, whose aiohttp import (~0.2 s of CPU, its SSL contexts built at import)
every ``sdex`` command paid though none but the node opens a WebSocket."""

from __future__ import annotations

REDIRECTS = frozenset({301, 302, 303, 307, 308})
"""The statuses aiohttp follows."""
