"""An ``sdex node`` in a process of its own (the demo, tests, benchmarks).

Started with the interpreter running this code, stopped by its own PID: SIGTERM for a clean
stop, SIGKILL (``kill``) to simulate a crash.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests


def http_url(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 host in brackets (``http://[::1]:8001``)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


class NodeProcess:
    def __init__(
        self,
        port: int,
        deployment: Path,
        key: bytes,
        db: Path,
        log: Path,
        peers: list[str] | tuple[str, ...] = (),
        host: str = "127.0.0.1",
        fee_bps: int = 0,
        admin: bool = False,
        dev_wallets: bool = False,
        gossip_scale: float = 1.0,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.port = port
        self.url = http_url(host, port)
        self.log = log
        self.cmd = [
            sys.executable, "-m", "sdex.cli", "node", "--port", str(port), "--host", host,
            "--deployment", str(deployment), "--key", "0x" + key.hex(), "--db", str(db),
            "--fee-bps", str(fee_bps),
        ]  # fmt: skip
        for p in peers:
            self.cmd += ["--peer", p]
        if admin:
            self.cmd.append("--admin")
        if dev_wallets:
            self.cmd.append("--dev-wallets")
        if gossip_scale != 1.0:
            self.cmd += ["--gossip-scale", repr(gossip_scale)]
        self.cmd += extra  # (other ``sdex node`` options, as typed)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> NodeProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``/health`` answers; raises if the process exits or the time is up."""
        deadline = time.monotonic() + timeout
        with requests.Session() as s:
            while True:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    raise RuntimeError(f"node {self.url} exited ({code}); see {self.log}")
                try:
                    if s.get(self.url + "/health", timeout=1.0).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {self.url} not ready after {timeout:g}s")
                time.sleep(0.05)

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def terminate(self) -> None:
        """SIGTERM without waiting: stop several nodes at once, then ``stop()`` each."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (the node shuts down cleanly), SIGKILL if it does not within ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed but what the node already committed."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
