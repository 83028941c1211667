"""`board up` stops its embedded PostgreSQL on every way out.

Ctrl-C in a terminal (SIGINT to the whole process group), SIGTERM, Ctrl-C while it is
still starting, and a failure to start: each leaves no server on the data folder. The
boards start where an earlier crash left them, with a server a killed process left
running (the library that starts the server then never stopped it again).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from board.embedded import free_port, postgres_folder, postmaster_pid, stop_embedded_postgres
from tests.e2e.board_process import Board, every_process, process_command
from tests.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

_KILLED_USER = """
import os, signal, sys
from pathlib import Path
from board.embedded import start_embedded_postgres
start_embedded_postgres(Path(sys.argv[1]))
os.kill(os.getpid(), signal.SIGKILL)
"""


def server_processes(data_dir: Path) -> list[int]:
    """Every process of a PostgreSQL server on the folder (the postmaster by its `-D`)."""
    folder = str(postgres_folder(data_dir))
    return [pid for pid in every_process() if folder in process_command(pid).split()]


def no_server_is_left(data_dir: Path) -> bool:
    pgdata = postgres_folder(data_dir)
    return not (pgdata / "postmaster.pid").exists() and not server_processes(data_dir)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "data"
    try:
        yield data
    finally:
        # A test that fails must not leave its server running on the machine.
        stop_embedded_postgres(postgres_folder(data))


@pytest.fixture
def left_running(data_dir: Path) -> Path:
    """A data folder whose PostgreSQL a killed process left running."""
    subprocess.run([sys.executable, "-c", _KILLED_USER, str(data_dir)], check=False, timeout=120)
    assert postmaster_pid(postgres_folder(data_dir)) is not None
    return data_dir


@pytest.fixture
def board(tmp_path: Path, data_dir: Path) -> Iterator[Board]:
    run = Board(data_dir, free_port(), tmp_path / "board-up.log")
    try:
        yield run
    finally:
        run.stop()
        sys.stderr.write(run.log.read_text(errors="replace")[-4000:])


def stopped(board: Board) -> int:
    assert board.process is not None
    return board.process.wait(timeout=120)


@pytest.mark.usefixtures("left_running")
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_the_running_board_stops_its_postgres(
    board: Board, data_dir: Path, stop_signal: signal.Signals
) -> None:
    board.start()

    assert board.process is not None
    os.killpg(board.process.pid, stop_signal)

    assert stopped(board) == 0
    assert no_server_is_left(data_dir)


def test_ctrl_c_while_the_board_starts_stops_its_postgres(board: Board, data_dir: Path) -> None:
    board.launch()
    eventually(
        lambda: postmaster_pid(postgres_folder(data_dir)) is not None,
        "the embedded PostgreSQL to start",
        timeout=120,
    )

    assert board.process is not None
    os.killpg(board.process.pid, signal.SIGINT)

    stopped(board)
    assert no_server_is_left(data_dir)


@pytest.mark.usefixtures("left_running")
def test_a_board_that_fails_to_start_stops_its_postgres(board: Board, data_dir: Path) -> None:
    # Bound but not listening: the embedded broker cannot take the port.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        board.environment["BOARD_KAFKA_PORT"] = str(taken.getsockname()[1])
        board.launch()

        assert stopped(board) != 0
    assert no_server_is_left(data_dir)
