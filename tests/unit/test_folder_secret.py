"""A board run from a data folder signs with the folder's own secret, made once."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from board.secret import SECRET_FILE, folder_secret, with_secret
from shared.settings import Section, Settings


def test_without_a_configured_secret_the_folder_makes_one_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=str(tmp_path))  # type: ignore[call-arg]

    first = with_secret(settings)
    again = with_secret(settings)

    assert first.secret_key == again.secret_key
    assert first.check_for(Section.TOKENS) is first
    mode = stat.S_IMODE((tmp_path / SECRET_FILE).stat().st_mode)
    assert mode == 0o600


def test_two_folders_have_different_secrets(tmp_path: Path) -> None:
    assert folder_secret(tmp_path / "one") != folder_secret(tmp_path / "two")


def test_a_configured_secret_wins_over_the_folders(tmp_path: Path) -> None:
    own = "a-configured-secret-of-more-than-32-characters"
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=str(tmp_path), secret_key=own
    )

    assert with_secret(settings).secret_key == own
    assert not (tmp_path / SECRET_FILE).exists()


def test_processes_racing_to_make_the_secret_agree_on_one(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        secrets = set(pool.map(lambda _: folder_secret(tmp_path), range(32)))

    assert len(secrets) == 1
    assert len(secrets.pop()) >= 32
