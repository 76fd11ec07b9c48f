"""The README's Python example, as a user copies it: lint-clean by the project's own ruff
settings (``ruff check``, ``ruff format --check``), and run as it stands (only its key and
node filled in) against a real node on the test devnet, where it posts an order that rests.
"""

from __future__ import annotations

import ast
import asyncio
import re
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
    code = block.replace('key = "0x..."', f'key = "{key}"').replace(
        '"http://127.0.0.1:8001"', f'"http://{cfg.host}:{cfg.port}"'
    )
    async with running_node(cfg) as (_, api):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        answer = ast.literal_eval(out.decode())
        assert answer["status"] == "open" and answer["outcome"] == "rested", answer
        status, rec = await api.get(f"/v1/orders/{answer['orderHash']}")
        assert status == 200 and rec["order"]["makerAmount"] == str(10**18)
