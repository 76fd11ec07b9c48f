"""What a user types that no run could use is refused before anything runs (exit 2, one clear
message naming the option): an output file that cannot be written, a URL without a port
(a bare ``host:port`` is http), garbage for a host. user14: ``--out /nonexistent/x.json``
failed only after the whole simulation; ``--peer localhost`` was taken and dialled on port 80
for ever."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.cliopts import host_callback
from sdex.urls import UrlError, check_host, check_url

KEY = "0x" + "11" * 32


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.output


# -- sdex simulate --out ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("out", "says"),
    [
        ("/nonexistent/x.json", "'/nonexistent' is not a directory"),
        ("{tmp}", "is a directory"),
        ("{tmp}/file/x.json", "is not a directory"),  # a file where a directory should be
    ],
)
def test_an_out_path_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, out: str, says: str
) -> None:
    (tmp_path / "file").write_text("")
    code, output = run("simulate", "-n", "20", "--orders", "5", "--out", out.format(tmp=tmp_path))
    assert code == 2, output
    assert "Invalid value for '--out'" in output and says in output
    assert '"runs"' not in output  # (refused before the run: no figures printed)


def test_an_out_path_that_can_be_written_gets_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    code, output = run("simulate", "-n", "20", "--orders", "5", "--out", str(out))
    assert code == 0, output
    assert '"runs"' in out.read_text()


# -- URLs and hosts ---------------------------------------------------------------------------

GOOD_URLS = [
    ("http://127.0.0.1:8001", False, "http://127.0.0.1:8001"),
    ("http://localhost:8001/", False, "http://localhost:8001"),
    ("  http://node-2.example.org:80 ", False, "http://node-2.example.org:80"),
    ("http://[::1]:8001", False, "http://[::1]:8001"),
    ("https://relay.example.org", False, "https://relay.example.org"),  # 443
    ("HTTP://10.0.0.7:9000", False, "HTTP://10.0.0.7:9000"),
    ("localhost:8001", False, "http://localhost:8001"),  # (no scheme: http, as ever)
    ("https://relay.example.org/sdex/", False, "https://relay.example.org/sdex"),  # a prefix
    ("127.0.0.1:8545", True, "http://127.0.0.1:8545"),
    ("https://eth.example.org/v3/abc", True, "https://eth.example.org/v3/abc"),
    ("http://127.0.0.1:8545", True, "http://127.0.0.1:8545"),
]


@pytest.mark.parametrize(("text", "path", "want"), GOOD_URLS)
def test_a_usable_url_is_taken(text: str, path: bool, want: str) -> None:
    assert check_url(text, path=path) == want


BAD_URLS = [
    ("localhost", "'localhost' has no port: write http://localhost:PORT"),
    ("127.0.0.1", "no port"),
    ("localhost:abc", "not a valid URL"),
    ("http://localhost", "no port"),
    ("http://127.0.0.1", "no port"),
    ("http://127.0.0.1:", "no port"),
    ("http://localhost:abc", "not a valid URL"),
    ("http://localhost:70000", "not a valid URL"),
    ("http://localhost:0", "port 0"),
    ("ftp://localhost:8001", "scheme must be http or https"),
    ("ws://localhost:8001", "scheme must be http or https"),
    ("http://:8001", "no host"),
    ("http://999.1.1.1:8001", "not a host name"),
    ("http://bad_host-.x:8001", "not a host name"),
    ("http://a b:8001", "space"),
    ("http://user:pw@localhost:8001", "user info"),
    ("http://localhost:8001?x=1", "query or a fragment"),
    ("http://localhost:8001#top", "query or a fragment"),
    ("", "empty"),
    ("http://x:1/" + "a" * 3000, "characters"),
    # review16: urlsplit reads the host ::1 out of these; aiohttp's parser (yarl) refuses them
    ("http://h[::1]:8001", "not a valid URL"),
    ("http://[::1]x:8001", "not a valid URL"),
    ("h[::1]:8001", "not a valid URL"),
]


@pytest.mark.parametrize(("text", "says"), BAD_URLS)
def test_an_unusable_url_is_refused_saying_why(text: str, says: str) -> None:
    with pytest.raises(UrlError, match=says):
        check_url(text)


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1", True),
        ("0.0.0.0", True),
        ("::1", True),
        ("[::1]", True),
        ("node.example.org", True),
        ("localhost", True),
        ("", False),
        ("http://127.0.0.1", False),
        ("127.0.0.1:8001", False),
        ("300.1.1.1", False),
        ("a..b", False),
        ("-x.org", False),
    ],
)
def test_a_host_is_a_name_or_an_address(host: str, ok: bool) -> None:
    if ok:
        assert check_host(host) == host
    else:
        with pytest.raises(UrlError):
            check_host(host)


# Every option that takes a URL or an address, each with a value no client could use: the
# command line refuses it (exit 2, naming the option) before it reads a file or a network.
COMMANDS = [
    (["node", "--port", "8001", "--key", KEY, "--peer", "{bad}"], "--peer"),
    (
        [
            "node",
            "--port",
            "8001",
            "--key",
            KEY,
            "--peer",
            "http://127.0.0.1:8002",
            "--peer",
            "{bad}",
        ],
        "--peer",
    ),
    (["node", "--port", "8001", "--key", KEY, "--rpc", "{bad}"], "--rpc"),
    (["order", "buy", "1", "1", "--key", KEY, "--node", "{bad}"], "--node"),
    (["book", "--node", "{bad}"], "--node"),
    (["cancel", "0x" + "ab" * 32, "--key", KEY, "--node", "{bad}"], "--node"),
    (
        [
            "cancel",
            "0x" + "ab" * 32,
            "--key",
            KEY,
            "--node",
            "http://127.0.0.1:1",
            "--onchain",
            "--rpc",
            "{bad}",
        ],
        "--rpc",
    ),
    (["console", "--key", KEY, "--node", "{bad}"], "--node"),
    (["audit", "--node", "{bad}"], "--node"),
    (["audit", "--rpc", "{bad}"], "--rpc"),
]


@pytest.mark.parametrize("bad", ["localhost", "http://localhost", "http://localhost:x", "garbage"])
@pytest.mark.parametrize(("argv", "option"), COMMANDS)
def test_every_url_option_refuses_an_unusable_url(argv: list[str], option: str, bad: str) -> None:
    code, output = run(*(a.format(bad=bad) for a in argv))
    assert code == 2, output
    assert f"Invalid value for '{option}'" in output, output


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["node", "--port", "8001", "--key", KEY, "--host", "http://0.0.0.0"], "--host"),
        (["node", "--port", "8001", "--key", KEY, "--host", "1.2.3.4:80"], "--host"),
        (["devnet", "--port", "0"], "--port"),
        (["devnet", "--port", "70000"], "--port"),
    ],
)
def test_an_address_or_port_that_is_not_one_is_refused(argv: list[str], option: str) -> None:
    code, output = run(*argv)
    assert code == 2, output
    assert f"Invalid value for '{option}'" in output, output


def test_a_usable_node_url_gets_past_the_options(tmp_path: Path) -> None:
    """The check lets a good URL through: the wallet command runs and fails only on the
    connection (exit 1, nothing listens on port 1), not as a usage error."""
    code, output = run("book", "--node", "http://127.0.0.1:1/")
    assert code == 1, output
    assert "Invalid value" not in output


@pytest.mark.parametrize(
    ("typed", "bound"),
    [("[::1]", "::1"), ("::1", "::1"), ("127.0.0.1", "127.0.0.1"), ("localhost", "localhost")],
)
def test_a_host_is_bound_without_brackets(typed: str, bound: str) -> None:
    """review15: ``--host [::1]`` passed the check and was bound as ``[::1]``, a name no
    resolver knows (the node failed at its bind, after the chain and the store)."""
    command = click.Command("x", params=[click.Option(["--host"], callback=host_callback)])
    with click.Context(command) as ctx:
        assert command.params[0].process_value(ctx, typed) == bound


# -- python -m sdex ---------------------------------------------------------------------------


def test_python_m_sdex_is_the_sdex_command() -> None:
    """``python -m sdex`` runs the same commands, named ``sdex`` in its usage (user25: it
    failed with "No module named sdex.__main__")."""
    res = subprocess.run(
        [sys.executable, "-m", "sdex", "order", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Usage: sdex order")
