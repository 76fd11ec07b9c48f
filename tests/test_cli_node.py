"""New-user papercuts (issue 10) against real parts: the wallet commands against an
in-process node (``node``) on the Hardhat devnet, and ``sdex node`` itself started as a process:
what it says without a key, with a broken deployment file or a dead RPC, and its log lines
as a pipe sees them."""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO

import pytest
import requests
from click.testing import CliRunner, Result

from sdex.chain import OrderStatus
from sdex.cli import main
from sdex.client import NodeClient
from sdex.deployment import TokenInfo
from sdex.gossip import GossipConfig
from sdex.node.cliconfig import config_for, scaled_gossip
from sdex.node.process import NodeProcess
from tests.conftest import Chain
from tests.nodethread import node_thread
from tests.nodeutil import ROOT, free_port, has_ipv6_loopback, node_ready, node_run
from tests.portpick import PortTaken, on_picked_port_sync

ALICE, BOB = 1, 2
OPERATOR = 17  # (ux49: an operator account, the last three: 16 gets a warning)
E18, E6 = 10**18, 10**6


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})


def key(c: Chain, i: int) -> str:
    return "0x" + c.keys[i].hex()


@contextlib.contextmanager
def node(
    c: Chain, tmp: Path, tokens: dict[str, TokenInfo] | None = None, fee_bps: int = 0
) -> Iterator[tuple[str, Path]]:
    """A node on the test's chain as ``sdex node`` configures it (its deployment listing
    ``tokens`` instead of the chain's own, when given; charging ``fee_bps``), served in this
    process on a thread of its own (``node_thread``: these tests' subject is the wallet the
    CLI runs, not the node's process; suite97); (its URL, the deployment file)."""
    deployment = tmp / "devnet.json"
    replace(c.deployment, tokens=tokens or c.deployment.tokens).save(deployment)
    with node_thread(deployment, c.keys[OPERATOR], tmp / "n.db", fee_bps=fee_bps) as (_, url):
        yield url, deployment


def one_line(text: str) -> str:
    """Rich wraps long lines on narrow terminals: compare words."""
    return " ".join(text.split())


# -- what the wallet says about a posted order -------------------------------------------------


def test_a_fully_matched_taker_is_told_matched_in_full(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, _):
        r = cli("order", "sell", "2000", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        assert "rests in the book, no match yet (status open, outcome rested)" in r.output
        r = cli("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB))
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        # the node's status counts mined fills only: it is not "partially filled"
        assert "matched in full, settlement pending on chain (status " in out, out
        assert "outcome filled)" in out
        assert "bought 1 WETH for 2000 USDC once settled on chain" in out

        r = cli("order", "sell", "2500", "1", "--node", url, "--key", key(c, ALICE), "--tif", "ioc")
        assert r.exit_code == 0, r.output
        assert "no match: dropped (ioc), nothing traded (status removed, outcome dropped)" in (
            one_line(r.output)
        )


def test_a_dust_remainder_is_called_out(chain: Chain, tmp_path: Path) -> None:
    """A sell of 1.0000000001 WETH at 1999 against a bid of 1 WETH at 2000: the bid takes
    1 WETH, and 10^-10 WETH rests, worth less than one unit of USDC at 1999."""
    c = chain
    with node(c, tmp_path) as (url, _):
        assert cli("order", "buy", "2000", "1", "--node", url, "--key", key(c, BOB)).exit_code == 0
        r = cli("order", "sell", "1999", "1.0000000001", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        out = one_line(r.output)
        assert "partly matched; the rest rests in the book" in out, out
        assert (
            "note: what rests, 0.0000000001 WETH, is worth less than one unit of USDC at its "
            "price" in out
        )
        r = cli("order", "sell", "1999", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0 and "note:" not in r.output


def test_the_chains_url_given_as_the_node_is_named_as_the_mistake(chain: Chain) -> None:
    """``--node`` given the devnet's RPC URL (8545 for 8001): Hardhat answers the GET with a
    JSON-RPC error, which read "error: order_config lacks 'chainId'"."""
    rpc = chain.deployment.rpc
    for args in (["book"], ["order", "buy", "2000", "1", "--key", key(chain, ALICE)]):
        r = cli(*args, "--node", rpc)
        assert r.exit_code == 1, r.output
        assert r.stderr == (
            f"error: {rpc} is a chain's JSON-RPC endpoint, not an SDEX node: --node takes a "
            "node's URL, the one `sdex node` prints (listening on ...)\n"
        )


def test_a_second_onchain_cancel_sends_nothing(chain: Chain, tmp_path: Path) -> None:
    c = chain
    with node(c, tmp_path) as (url, deployment):
        r = cli("order", "sell", "3000", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        order_hash = next(w for w in r.output.split() if w.startswith("0x") and len(w) == 66)
        args = ["cancel", order_hash, "--node", url, "--key", key(c, ALICE), "--onchain",
                "--deployment", str(deployment)]  # fmt: skip
        r = cli(*args)
        assert r.exit_code == 0, r.output
        assert "cancelled on chain in tx 0x" in r.output
        with NodeClient(url) as client:
            order = client.get_order(order_hash).order
        assert c.exchange.order_info(order).status is OrderStatus.CANCELLED
        nonce = c.rpc.call("eth_getTransactionCount", c.address(ALICE), "latest")
        r = cli(*args)
        assert r.exit_code == 0, r.output
        assert f"order {order_hash} is already cancelled on chain: no transaction sent" in (
            one_line(r.output)
        )
        assert c.rpc.call("eth_getTransactionCount", c.address(ALICE), "latest") == nonce


def test_an_onchain_cancel_names_where_a_dead_rpc_came_from(chain: Chain, tmp_path: Path) -> None:
    """user14: a deployment file left by a devnet no longer running (the default
    .sdex/devnet.json) made ``cancel --onchain`` say only "cannot reach the JSON-RPC endpoint
    http://127.0.0.1:20245", a port the user never typed. It now names the file."""
    c = chain
    with node(c, tmp_path) as (url, _):
        r = cli("order", "sell", "3000", "1", "--node", url, "--key", key(c, ALICE))
        assert r.exit_code == 0, r.output
        order_hash = next(w for w in r.output.split() if w.startswith("0x") and len(w) == 66)
        stale = tmp_path / "stale.json"
        replace(c.deployment, rpc=f"http://127.0.0.1:{free_port()}").save(stale)
        r = cli("cancel", order_hash, "--node", url, "--key", key(c, ALICE), "--onchain",
                "--deployment", str(stale))  # fmt: skip
        assert r.exit_code == 1, r.output
        said = one_line(r.output)
        assert f"(the rpc of {stale}: is that chain still running?" in said, said


# -- sdex node as a new user starts it ---------------------------------------------------------


def run_node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``sdex node ARGS`` run to its exit on a port of ``free_port``'s pick (run again on
    another if some other process took it first: ``node_run``), or on ARGS' own ``--port``."""
    clean = {k: v for k, v in os.environ.items() if k not in ("SDEX_NODE_KEY", "SDEX_KEY")}

    def run(port: int | None) -> subprocess.CompletedProcess[str]:
        picked = () if port is None else ("--port", str(port))
        return subprocess.run(
            [sys.executable, "-m", "sdex.cli", "node", *picked, *args],
            cwd=ROOT, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    if "--port" in args:  # (the test's port: its taking is what the test is about)
        return run(None)
    return node_run(run, lambda done: done.stderr)


def test_a_node_without_a_key_is_refused(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    done = run_node("--deployment", str(deployment))
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert "needs an operator key: --key HEX or $SDEX_NODE_KEY" in line
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_help_names_the_key_variables_and_the_readme_ports() -> None:
    r = cli("--version")
    assert r.exit_code == 0 and r.output.startswith("sdex ")
    r = cli("--help")
    assert "8001" in r.output and "8545" in r.output and "8000" not in r.output
    r = cli("node", "--help")
    assert "SDEX_NODE_KEY" in r.output and "8001" in r.output and "--log-level" in r.output
    for command in ("order", "cancel", "console"):
        r = cli(command, "--help")
        assert "SDEX_KEY" in r.output, command
        assert "8000" not in r.output


def test_gossip_scale_multiplies_the_timers_and_defaults_to_none(
    chain: Chain, tmp_path: Path
) -> None:
    """``--gossip-scale`` (tests run their clusters at 0.2): the three timers' intervals
    times the factor; without it a node gossips at the defaults; outside 0.01-1 refused."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    default = GossipConfig()
    cfg = config_for(port=free_port(), key=key(chain, OPERATOR), deployment=deployment)
    assert cfg.gossip == default
    cfg = config_for(
        port=free_port(), key=key(chain, OPERATOR), deployment=deployment, gossip_scale=0.2
    )
    assert cfg.gossip == replace(
        default,
        dial_interval=default.dial_interval * 0.2,
        ae_interval=default.ae_interval * 0.2,
        peer_exchange_interval=default.peer_exchange_interval * 0.2,
    )
    for bad in (0.0, 0.001, 1.5, math.nan):
        with pytest.raises(ValueError, match="--gossip-scale"):
            scaled_gossip(default, bad)
    for bad_arg in ("0", "2", "x"):
        r = cli("node", "--port", "1", "--deployment", str(deployment), "--gossip-scale", bad_arg)
        assert r.exit_code == 2 and "--gossip-scale" in r.output, r.output


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no deployment file at {path}"),
        ("not json", "the deployment file {path} is not JSON"),
        ("[1, 2]", "the deployment file {path} is not a JSON object"),
        ("without rpc", "the deployment file {path} lacks the field 'rpc'"),
        ("bad exchange", "the deployment file {path} has a bad 'exchange'"),
        ("bad token", "the deployment file {path} has a bad 'tokens.WETH.decimals'"),
    ],
)
def test_a_bad_deployment_file_is_one_line_naming_it(
    chain: Chain, tmp_path: Path, content: str | None, said: str
) -> None:
    path = tmp_path / "d.json"
    good = chain.deployment.to_json()
    if content == "without rpc":
        del good["rpc"]
        path.write_text(json.dumps(good))
    elif content == "bad exchange":
        path.write_text(json.dumps({**good, "exchange": "0x12"}))
    elif content == "bad token":
        good["tokens"]["WETH"]["decimals"] = "eighteen"
        path.write_text(json.dumps(good))
    elif content is not None:
        path.write_text(content)
    expected = said.format(path=path)
    audit = cli("audit", "--deployment", str(path))
    answers = [(audit.exit_code, audit.stderr)]
    if content in ("not json", "without rpc"):  # the cases, also as a node process
        done = run_node("--deployment", str(path), "--key", key(chain, OPERATOR))
        answers.append((done.returncode, done.stderr))
    for code, stderr in answers:
        assert code == 2, stderr
        (line,) = stderr.splitlines()
        assert line.startswith("error: ") and expected in line, line


def test_a_dead_rpc_is_named(chain: Chain, tmp_path: Path) -> None:
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    dead = f"http://127.0.0.1:{free_port()}"
    done = run_node("--deployment", str(deployment), "--rpc", dead,
                    env={"SDEX_NODE_KEY": key(chain, OPERATOR)})  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the JSON-RPC endpoint {dead}: "), line


def test_a_port_in_use_is_refused_before_the_node_opens_its_database(
    chain: Chain, tmp_path: Path
) -> None:
    """A second ``sdex node`` on a port something listens on (the README's 8001, already
    running): one ``error:`` line that says so, exit 1, and nothing opened. It opened the
    database (by default the running node's own, one per port), read the chain and created
    its gossip key first, then failed to bind with "[Errno 98] error while attempting to
    bind on address"."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        done = run_node("--deployment", str(deployment), "--port", str(port),
                        env={"SDEX_NODE_KEY": key(chain, OPERATOR)})  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line == (
        f"error: port {port} on 127.0.0.1 is already in use: another node (or something else) "
        "listens there; stop it or pick another --port"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["devnet.json"]  # no db, no key file


def test_a_database_that_is_not_one_is_one_line_naming_it(chain: Chain, tmp_path: Path) -> None:
    """``--db`` naming a file that is not SQLite (or a damaged one): one ``error:`` line that
    names it, exit 1 (it was a ``sqlite3.DatabaseError`` traceback, then "Unclosed client
    session" noise from the chain clients opened before it)."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    db = tmp_path / "n.db"
    db.write_bytes(b"not a database, " * 512)
    done = run_node("--deployment", str(deployment), "--db", str(db),
                    env={"SDEX_NODE_KEY": key(chain, OPERATOR)})  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"error: the database {db} cannot be used: file is not a database")
    assert db.read_bytes() == b"not a database, " * 512  # left as it was


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


def _wait_line(lines: queue.Queue[str], text: str, proc: subprocess.Popen[str]) -> str:
    """The first line holding ``text``, within 60 s, while ``proc`` runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the node exited with {proc.returncode}"
        with contextlib.suppress(queue.Empty):
            line = lines.get(timeout=0.2)
            if text in line:
                return line
    raise AssertionError(f"no line with {text!r} within 60 s")


@contextlib.contextmanager
def piped_node(
    args: list[str], env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], int, str, queue.Queue[str]]]:
    """``sdex node ARGS`` with its stdout and stderr on pipes, read line by line, on a port of
    ``free_port``'s pick: (the process, its port, its ``listening on`` line, its stderr's
    lines to come), once it said that line; started again on a new pick if it exited saying
    another process took the port first (``on_picked_port_sync``); killed by its PID on exit."""

    @contextlib.contextmanager
    def start(port: int) -> Iterator[tuple[subprocess.Popen[str], int, str, queue.Queue[str]]]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sdex.cli", "node", "--port", str(port), *args],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            out: queue.Queue[str] = queue.Queue()
            err: queue.Queue[str] = queue.Queue()
            assert proc.stdout is not None and proc.stderr is not None
            readers = [
                threading.Thread(target=_lines, args=(stream, q), daemon=True)
                for stream, q in ((proc.stdout, out), (proc.stderr, err))
            ]
            for reader in readers:
                reader.start()
            try:
                line = _wait_line(out, "listening on", proc)
            except AssertionError:
                readers[1].join(timeout=10)  # (it exited: its stderr read to the end)
                said = "".join(err.queue)
                if f"port {port} on " in said and "is already in use" in said:
                    raise PortTaken(said) from None
                raise
            yield proc, port, line, err
        finally:
            proc.kill()
            proc.wait(timeout=10)

    with on_picked_port_sync(start) as started:
        yield started


def test_node_lines_reach_a_pipe_at_once(chain: Chain, tmp_path: Path) -> None:
    """Through pipes (as ``| tee`` sees them), while the node runs: ``listening on`` on
    stdout, and with ``--log-level debug`` the sdex.* debug lines on stderr (here the gossip
    line of a peer that does not answer). The key comes from $SDEX_NODE_KEY."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    dead_peer = f"http://127.0.0.1:{free_port()}"
    args = ["--deployment", str(deployment), "--db", str(tmp_path / "n.db"), "--peer", dead_peer,
            "--log-level", "debug"]  # fmt: skip
    env = {**os.environ, "SDEX_NODE_KEY": key(chain, OPERATOR)}
    with piped_node(args, env) as (proc, port, line, err):
        assert line == f"listening on http://127.0.0.1:{port}\n"
        line = _wait_line(err, "DEBUG sdex.gossip", proc)
        assert dead_peer in line


def test_http_connection_bounds_are_options(chain: Chain, tmp_path: Path) -> None:
    """``--max-http-per-client``, ``--max-http`` and ``--http-idle-timeout`` set the bounds
    of ``sdex.node.conns`` (NodeConfig-only before); unset, the defaults; out of range, a
    usage error naming the option (``--listing-rate-limit``, ``--listing-rate-total`` too).
    A node started with a 1 s idle timeout closes a silent connection within seconds (the
    default keeps it 30 s), and with ``--listing-rate-limit 1000`` its listings count a
    bucket of 5,000 records (the default's is 10,000)."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    default = config_for(port=free_port(), key=key(chain, OPERATOR), deployment=deployment)
    assert (default.max_http_per_client, default.max_http, default.http_idle_timeout) == (
        512, 4096, 30.0,
    )  # fmt: skip
    cfg = config_for(
        port=free_port(), key=key(chain, OPERATOR), deployment=deployment,
        max_http_per_client=8, max_http=100, http_idle_timeout=2.5,
    )  # fmt: skip
    assert (cfg.max_http_per_client, cfg.max_http, cfg.http_idle_timeout) == (8, 100, 2.5)
    # every accepted order kept unless the operator asks (PRODUCT.md: 404 only for a hash the
    # node never accepted); --drop-closed-after sets the dead rows' retention
    assert default.expired_retention is None
    dropping = config_for(
        port=free_port(), key=key(chain, OPERATOR), deployment=deployment, drop_closed_after=60
    )
    assert dropping.expired_retention == 60
    for option, bad in [
        ("--max-http-per-client", "0"), ("--max-http-per-client", "x"), ("--max-http", "0"),
        ("--http-idle-timeout", "0"), ("--http-idle-timeout", "-1"),
        ("--http-idle-timeout", "nan"), ("--http-idle-timeout", "100000"),
        ("--listing-rate-limit", "0"), ("--listing-rate-limit", "x"),
        ("--listing-rate-total", "-5"), ("--listing-rate-total", "inf"),
        ("--chain-read-limit", "0"), ("--peer-chain-read-limit", "nan"),
        ("--chain-read-total", "-1"), ("--chain-read-total", "inf"),
        ("--drop-closed-after", "-1"), ("--drop-closed-after", "nan"),
    ]:  # fmt: skip
        r = cli(
            "node", "--port", "1", "--deployment", str(deployment),
            "--key", key(chain, OPERATOR), option, bad,
        )  # fmt: skip
        assert r.exit_code == 2 and option in r.output, (option, bad, r.output)

    def make(port: int) -> NodeProcess:
        return NodeProcess(
            port, deployment, chain.keys[OPERATOR], tmp_path / "n.db", tmp_path / "n.log",
            extra=("--http-idle-timeout", "1", "--max-http-per-client", "2",
                   "--listing-rate-limit", "1000"),
        )  # fmt: skip

    with node_ready(make, timeout=120) as proc:
        with socket.create_connection(("127.0.0.1", proc.port), timeout=20) as silent:
            start = time.monotonic()
            assert silent.recv(1) == b""  # the node closed it
            assert time.monotonic() - start < 15  # (1 s, slack for a loaded machine; not 30)
        listing = requests.get(f"http://127.0.0.1:{proc.port}/v1/orders", timeout=20)
        assert listing.status_code == 200
        assert listing.headers["X-RateLimit-Limit"] == "5000"  # (5 s of 1,000 a second)


@pytest.mark.skipif(not has_ipv6_loopback(), reason="no IPv6 loopback here")
def test_a_node_on_ipv6_says_a_url_that_works(chain: Chain, tmp_path: Path) -> None:
    """``--host ::1``: ``listening on http://[::1]:PORT`` (it said ``http://::1:PORT``, which
    no client parses), and that URL answers over IPv6."""
    deployment = tmp_path / "devnet.json"
    chain.deployment.save(deployment)
    args = ["--host", "::1", "--deployment", str(deployment), "--db", str(tmp_path / "n.db")]
    env = {**os.environ, "SDEX_NODE_KEY": key(chain, OPERATOR)}
    with piped_node(args, env) as (_, port, line, _):
        url = line.removeprefix("listening on ").strip()
        assert url == f"http://[::1]:{port}"
        with NodeClient(url) as client:
            assert client.health()["status"] == "ok"
