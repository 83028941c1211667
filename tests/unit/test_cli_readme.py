"""The README stays true to the code: its commands parse and it says where the settings are."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from board.cli import build_parser

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_board_command_in_the_readme_parses() -> None:
    shown = [
        shlex.split(line)[3:] for line in re.findall(r"^uv run board [^\n#]*", README, re.MULTILINE)
    ]
    assert shown, "the README shows no board command"

    for argv in shown:
        build_parser().parse_args(argv)


def test_the_readme_starts_with_the_commands_to_run_and_to_test() -> None:
    first_block = README.split("```")[1]

    assert "uv run board up" in first_block
    assert "uv run pytest" in first_block


def test_the_configuration_section_points_at_the_sample_that_lists_every_setting() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]

    # `.env.sample` itself is checked against the settings in test_settings_file.py.
    assert "(.env.sample)" in section
