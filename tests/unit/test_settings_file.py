"""`.env.sample` documents every setting, and a `.env` beside a process is read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from board.environment import variable_names
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / ".env.sample"
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def test_the_sample_lists_every_setting_and_nothing_else() -> None:
    listed = _ASSIGNMENT.findall(SAMPLE.read_text())

    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert set(listed) == set(variable_names().values())


def test_the_defaults_in_the_sample_are_the_real_defaults() -> None:
    assert Settings(_env_file=SAMPLE) == Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_dotenv_file_is_read_and_the_environment_takes_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("BOARD_PORT=9001\nBOARD_TOPIC_PREFIX=from-file\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOARD_TOPIC_PREFIX", "from-environment")

    settings = Settings()

    assert settings.port == 9001
    assert settings.topic_prefix == "from-environment"
