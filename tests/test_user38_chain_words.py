"""user38's trial: with the devnet stopped under a running node, the page's chain banner
(``/health``'s ``chainMirror.problem``) still said aiohttp's words, "ClientConnectorError:
Cannot connect to host 127.0.0.1:18545 ssl:default [Connect call failed ('127.0.0.1',
18545)]". user31 had put them in words in ``sdex.watch.loop.status_of``, tested alone, but
the watcher's poll loop, where a running node meets a stopped chain, sorted its errors by
itself and never called it. Now both say "cannot connect to 127.0.0.1:PORT: Connection
refused"."""

from __future__ import annotations

from pathlib import Path

from sdex.chainnode import Engine
from tests.nodeutil import running_node, wait_for
from tests.test_chain_outage import OwnChain, OwnOrders


async def test_a_stopped_chain_is_said_in_words_by_a_running_node(
    tmp_path: Path, engine: Engine
) -> None:
    net = OwnChain("user38words", engine)
    try:
        own = OwnOrders(net, net.deploy(), tmp_path / "n.db")
        async with running_node(own.cfg) as (_node, api):
            assert (await api.get("/health"))[1]["chain"] == "ok"
            net.stop()
            seen: list[object] = []

            async def unreachable() -> bool:
                code, h = await api.get("/health")
                seen[:] = [code, h.get("chain"), h.get("chainMirror", {}).get("problem")]
                # (the first failed reads may be a kept-alive connection's reset, said as
                # "connection to ... reset" since ux39: the next polls connect anew, and are
                # refused; a fresh-clone run saw the reset first)
                said = str(seen[2])
                return code == 503 and h["chain"] == "unreachable" and "cannot connect" in said

            try:
                await wait_for(unreachable, timeout=30)
            except AssertionError:
                raise AssertionError(f"/health after the chain stopped: {seen}") from None
            port = net.port
            assert seen[2] == f"cannot connect to 127.0.0.1:{port}: Connection refused", seen
    finally:
        net.stop()
