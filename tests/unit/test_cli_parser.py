"""The `board` command line: every documented command parses and reaches its handler."""

from __future__ import annotations

from pathlib import Path

import pytest

from board import commands
from board.cli import build_parser, main

DOCUMENTED = [
    (["up"], commands.up),
    (["up", "--host", "0.0.0.0", "--port", "9000", "--workers", "2"], commands.up),
    (["setup"], commands.setup),
    (["serve"], commands.serve),
    (["serve", "--port", "8001"], commands.serve),
    (["relay", "run"], commands.relay_run),
    (["relay", "republish", "--from", "42"], commands.relay_republish),
    (["projections", "run"], commands.projections_run),
    (["projections", "replay"], commands.projections_replay),
    (["projections", "replay", "--no-progress"], commands.projections_replay),
    (["projections", "status"], commands.projections_status),
    (["notifier", "run"], commands.notifier_run),
    (["createsuperuser"], commands.createsuperuser),
    (
        ["createsuperuser", "--username", "admin", "--email", "a@example.com", "--password", "pw"],
        commands.createsuperuser,
    ),
]


@pytest.mark.parametrize(("argv", "handler"), DOCUMENTED, ids=[" ".join(a) for a, _ in DOCUMENTED])
def test_every_documented_command_parses_to_its_handler(argv: list[str], handler: object) -> None:
    args = build_parser().parse_args(argv)

    assert args.command_fn is handler


def test_up_takes_its_options() -> None:
    args = build_parser().parse_args(
        ["up", "--host", "0.0.0.0", "--port", "9000", "--workers", "3"]
    )

    assert (args.host, args.port, args.workers) == ("0.0.0.0", 9000, 3)


def test_up_runs_one_projection_worker_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["up"])

    assert (args.host, args.port, args.workers) == (None, None, 1)


def test_republish_names_its_first_position() -> None:
    args = build_parser().parse_args(["relay", "republish", "--from", "7"])

    assert args.from_position == 7


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["relay"],
        ["projections"],
        ["relay", "republish"],
        ["relay", "republish", "--from", "x"],
        ["up", "--workers", "0"],
        ["createsuperuser", "--superuser"],
    ],
)
def test_incomplete_or_unknown_commands_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(argv)

    assert refused.value.code == 2


def test_invalid_settings_stop_a_command_before_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOARD_PORT", "not-a-port")

    assert main(["projections", "status"]) == 2


def test_a_production_server_without_a_secret_of_its_own_does_not_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BOARD_ENV", "production")
    monkeypatch.setenv("BOARD_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("BOARD_SECRET_KEY", raising=False)

    assert main(["serve"]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("also", [{}, {"BOARD_PORT": "not-a-port"}])
def test_a_refused_secret_is_never_logged_not_even_its_start(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], also: dict[str, str]
) -> None:
    secret = "Zq9xW-too-short"
    monkeypatch.setenv("BOARD_SECRET_KEY", secret)
    for name, value in also.items():
        monkeypatch.setenv(name, value)

    assert main(["serve"]) == 2

    logged = capfd.readouterr().err
    assert "invalid settings" in logged
    assert secret[:4] not in logged
