"""The dev accounts' keys saved in the deployment file (``accounts: [{address, key}]``) were
read as any string (user28's trial): an address pasted where the key goes, junk, or a key of
another account reached the page's dev wallets (``ethers.Wallet`` threw in the browser, or the
page listed one address and signed as another: "not signed by the order's maker") and the
demo (a Python traceback). The file is now refused when it is read, naming the field and what
is wrong with it, as for every other field: ``sdex node`` says so in one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sdex.cli import main
from sdex.deployment import Deployment, DeploymentError
from tests.conftest import Chain
from tests.nodeutil import node_run

ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
KEY_OF_ADDRESS = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
OTHER_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"

# (the key saved for ADDRESS, what the error says)
BAD_KEYS: list[tuple[object, str]] = [
    (ADDRESS, "'accounts[1].key': that is an address (20 bytes), not a private key"),
    ("hello", "'accounts[1].key': not a private key (0x and 64 hex digits)"),
    ("0x" + "00" * 32, "'accounts[1].key': not a valid secp256k1 private key"),
    ("0x" + "ff" * 32, "'accounts[1].key': not a valid secp256k1 private key"),
    (KEY_OF_ADDRESS[2:], "'accounts[1].key': not a private key (0x and 64 hex digits)"),
    ("0x" + "ab" * 33, "'accounts[1].key': not a private key (0x and 64 hex digits)"),
    (12, "'accounts[1].key'"),
    (None, "'accounts[1].key'"),
    (OTHER_KEY, f"'accounts[1].key': it is the key of 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC, "
                f"not of accounts[1].address {ADDRESS}"),
]  # fmt: skip


def _file(chain: Chain, tmp: Path, key: object) -> Path:
    obj = chain.deployment.to_json()
    obj["accounts"][1] = {"address": ADDRESS, "key": key}
    path = tmp / "devnet.json"
    path.write_text(json.dumps(obj))
    return path


@pytest.mark.parametrize(("key", "said"), BAD_KEYS, ids=[str(k)[:12] for k, _ in BAD_KEYS])
def test_a_bad_saved_key_is_named_when_the_file_is_read(
    chain: Chain, tmp_path: Path, key: object, said: str
) -> None:
    path = _file(chain, tmp_path, key)
    with pytest.raises(DeploymentError) as e:
        Deployment.load(path)
    assert said in str(e.value) and str(path) in str(e.value)


def test_the_devnets_own_file_is_taken(chain: Chain, tmp_path: Path) -> None:
    path = _file(chain, tmp_path, KEY_OF_ADDRESS)
    d = Deployment.load(path)
    assert d.accounts[1].key == KEY_OF_ADDRESS
    chain.deployment.save(tmp_path / "saved.json")  # and every key the devnet writes
    assert Deployment.load(tmp_path / "saved.json") == chain.deployment


def test_sdex_node_with_dev_wallets_says_so_in_one_line(chain: Chain, tmp_path: Path) -> None:
    path = _file(chain, tmp_path, ADDRESS)
    r = node_run(
        lambda port: CliRunner().invoke(
            main,
            ["node", "--port", str(port), "--deployment", str(path), "--dev-wallets",
             "--key", "0x" + chain.keys[19].hex(), "--db", str(tmp_path / "n.db")],
            env={"COLUMNS": "200"},
        ),
        lambda r: r.output,
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    assert "accounts[1].key': that is an address (20 bytes), not a private key" in r.output
    assert "Traceback" not in r.output
