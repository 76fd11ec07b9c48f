"""user81: ``sdex devnet``'s terminal shows its summary only, and names where the chain's own
output goes. Hardhat prints a banner of every dev account's private key and, unless told
not to, a line per JSON-RPC call: those go to the log beside the deployment file, never to
the user's terminal (it was so already; the summary did not say where to look). A real
``sdex devnet`` process on Hardhat, on a free port, in a fresh directory."""

from __future__ import annotations

import signal
from pathlib import Path

from sdex.devnet import free_port
from tests.devnetproc import devnet_running


def test_sdex_devnet_keeps_hardhats_output_in_its_log(tmp_path: Path) -> None:
    port = free_port()
    with devnet_running(tmp_path, port, []) as (proc, lines):
        assert proc.stdout is not None
        text = "\n".join(line.rstrip() for line in lines)
        for said in ("Private Key", "Account #", "eth_", "WARNING", "JSON-RPC server"):
            assert said not in text, text  # (Hardhat's own words: in its log)
        assert "hardhat's own output: .sdex/devnet.log" in text, text
        log = (tmp_path / ".sdex" / "devnet.log").read_text()
        assert "Private Key" in log and f"127.0.0.1:{port}" in log
        proc.send_signal(signal.SIGINT)
        rest = proc.stdout.read()  # (to its exit)
        assert proc.wait(timeout=30) == 0
        assert "Private Key" not in rest and rest.startswith("stopped in "), rest
