"""The README's Python example, as a user copies it: lint-clean by the project's own ruff
settings (``ruff check``, ``ruff format --check``), and run as it stands (only its key and
node filled in) against a real node on the test devnet, where it posts an order that rests.
"""

from __future__ import annotations

import ast
import asyncio
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Chain
from tests.nodeutil import node_config, running_node

ROOT = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"


def python_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_the_readme_has_its_python_example() -> None:
    [block] = python_blocks()
    ast.parse(block)
    assert 'key = "0x..."' in block and 'node = "http://127.0.0.1:8001"' in block


@pytest.mark.parametrize("ruff", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_the_readme_python_example_is_lint_clean(ruff: list[str]) -> None:
    for block in python_blocks():
        done = subprocess.run(
            [str(RUFF), *ruff, "--stdin-filename", "readme_example.py", "-"],
            input=block,
            capture_output=True,
            text=True,
            cwd=ROOT,  # (pyproject.toml's settings)
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr


async def test_the_readme_python_example_posts_an_order(chain: Chain, tmp_path: Path) -> None:
    [block] = python_blocks()
    cfg = node_config(chain, tmp_path / "n.db")
    key = "0x" + chain.keys[2].hex()  # (a dev account holding WETH)
    async with running_node(cfg) as (_, api):
        code = block.replace('key = "0x..."', f'key = "{key}"').replace(
            '"http://127.0.0.1:8001"',
            f'"{api.base}"',  # (the port the node bound)
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        answer = ast.literal_eval(out.decode())
        assert answer["status"] == "open" and answer["outcome"] == "rested", answer
        status, rec = await api.get(f"/v1/orders/{answer['orderHash']}")
        assert status == 200 and rec["order"]["makerAmount"] == str(10**18)


# ---- what the README shows of the command line and the HTTP API exists ------------------------

OPTION = re.compile(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)")


def readme_code() -> list[tuple[int, str]]:
    """(line, text) of every code line (fenced blocks, indented or not) and inline code span."""
    out: list[tuple[int, str]] = []
    fenced = False
    for n, line in enumerate((ROOT / "README.md").read_text().splitlines(), 1):
        if line.strip().startswith("```"):
            fenced = not fenced
        elif fenced:
            out.append((n, line))
        else:
            out.extend((n, m) for m in re.findall(r"`([^`]+)`", line))
    return out


def sdex_commands() -> dict[str, set[str]]:
    """Each ``sdex`` command's options, from the click objects themselves."""
    import click

    from sdex.cli import main

    ctx = click.Context(main)  # (listed as ``sdex --help`` lists them: the lazy ones too)
    cmds = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    return {
        name: {o for p in cmd.params for o in (*p.opts, *p.secondary_opts)}
        for name, cmd in cmds.items()
        if isinstance(cmd, click.Command)
    }


def unknown_cli_uses(code: list[tuple[int, str]], commands: dict[str, set[str]]) -> list[str]:
    """``sdex CMD ... --opt`` in the README where CMD or --opt does not exist (an option is
    read up to the next ``sdex``, a ``#`` comment or a shell separator)."""
    bad = []
    for n, text in code:
        for m in re.finditer(r"\bsdex ([a-z]+)\b([^#;|&]*?)(?=\bsdex [a-z]|[#;|&]|$)", text):
            cmd, rest = m.group(1), m.group(2)
            if cmd not in commands:
                bad.append(f"README.md:{n}: no command sdex {cmd}")
                continue
            bad += [
                f"README.md:{n}: sdex {cmd} has no {o}"
                for o in OPTION.findall(rest)
                if o not in commands[cmd] and o != "--help"
            ]
    return bad


def test_every_sdex_command_and_option_the_readme_shows_exists() -> None:
    assert unknown_cli_uses(readme_code(), sdex_commands()) == []


def test_the_cli_checker_finds_a_missing_option() -> None:
    code = [(1, ".venv/bin/sdex node --port 1 --nope  # --also-not-read"), (2, "sdex nodes --x")]
    assert unknown_cli_uses(code, {"node": {"--port"}}) == [
        "README.md:1: sdex node has no --nope",
        "README.md:2: no command sdex nodes",
    ]


def test_the_readmes_command_lines_parse() -> None:
    """Every ``.venv/bin/sdex ...`` line parses as the CLI reads it (placeholders filled)."""
    import click

    from sdex.cli import main

    fill = {"0x<operator key>": "0x" + "12" * 32, "0x<other key>": "0x" + "13" * 32}
    fill |= {"0x<order hash>": "0x" + "22" * 32}
    lines = (ROOT / "README.md").read_text().splitlines()
    seen = 0
    for n, line in enumerate(lines):
        m = re.search(r"\.venv/bin/sdex (.*?)(?:\s+#.*)?$", line)
        if m is None:
            continue
        text = m.group(1)
        if text.endswith("\\"):  # (continued on the next line)
            text = text[:-1] + lines[n + 1].strip()
        for k, v in fill.items():
            text = text.replace(k, v)
        text = re.sub(r"\$K\w*", "0x" + "11" * 32, text)  # ($K, $K2: wallet keys)
        name, *args = shlex.split(text)
        cmd = main.get_command(click.Context(main), name)
        assert cmd is not None, name
        cmd.make_context(name, args)  # raises on a bad option or value
        seen += 1
    assert seen >= 10


def api_routes() -> set[str]:
    """Every path the node serves: its API's and the page's routes, and ``/p2p/``'s."""
    from sdex.gossip.routes import ROUTES

    paths = {"/p2p" + path for _, path, _, _ in ROUTES} | {"/p2p/stream"}
    for src in ("sdex/node/api.py", "sdex/web/__init__.py", "sdex/gossip/routes.py"):
        text = (ROOT / src).read_text()
        paths |= set(
            re.findall(r"\.add_(?:get|post|route|subapp)\((?:\"[A-Z]+\", )?\"(/[^\"]*)\"", text)
        )
    return paths


def test_every_api_path_the_readme_shows_is_served() -> None:
    routes = api_routes()
    shown = {
        re.sub(r"\?.*", "", p).rstrip(".,")
        for _, text in readme_code()
        for p in re.findall(r"(?<![\w.])(/(?:v1|web|p2p|admin|health|metrics)[\w/{}?=&.-]*)", text)
    }
    missing = {p for p in shown if p not in routes and p.rstrip("/") + "/" not in routes}
    assert len(shown) >= 15 and missing == set(), missing


def test_the_fee_jump_limit_points_at_the_walk_health_says() -> None:
    """fee94: README's known limit of a devnet's fee jump says how many blocks to mine by
    naming /health's field, which ``HeadSignal.to_json`` has."""
    from sdex.chain.headsignal import HeadSignal

    text = " ".join((ROOT / "README.md").read_text().split())
    limit = text[text.index("`hardhat_setNextBlockBaseFeePerGas`") :][:400]
    assert "`chainMirror.baseFee.walk.blocksToRead`" in limit, limit
    heads = HeadSignal(lambda: 100)
    heads.read(100, 10**9, placed=True)
    heads.read(101, 10**11, placed=True)  # (a jump: refused, the walk said)
    walk = heads.to_json()["walk"]
    assert isinstance(walk, dict) and isinstance(walk["blocksToRead"], int), walk
