"""The command line as a newcomer meets it: help, and one clear line for each thing wrong."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .harness import DATA_KEY, TOKEN
from .test_run import KERRALLA, environment


def kerralla(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [KERRALLA, *args],
        cwd=cwd,
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # no traceback
    assert lines[0].startswith("kerralla: ")
    return lines[0]


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = kerralla("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "migrate", "generate-key"):
        assert f"    {command}" in result.stdout


def test_run_without_a_token_points_to_the_demo(tmp_path: Path) -> None:
    line = one_line(kerralla("run", cwd=tmp_path))
    assert "TELEGRAM_BOT_TOKEN is not set" in line
    assert "make demo" in line
    assert not (tmp_path / "data").exists()


def test_run_without_a_data_key_says_how_to_make_one(tmp_path: Path) -> None:
    line = one_line(kerralla("run", cwd=tmp_path, TELEGRAM_BOT_TOKEN=TOKEN))
    assert "DATA_KEY is not set" in line
    assert "kerralla generate-key" in line


def test_generated_keys_are_accepted(tmp_path: Path) -> None:
    key = kerralla("generate-key", cwd=tmp_path).stdout.strip()
    result = kerralla("migrate", cwd=tmp_path, DATA_KEY=key)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"ADMIN_TELEGRAM_IDS": "123,@admin"}, "ADMIN_TELEGRAM_IDS ('123,@admin') is not a list"),
        ({"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}, "cannot reach the database"),
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE ('Mars/Olympus') is not a time zone name"),
    ],
)
def test_bad_settings_stop_with_one_line_and_create_nothing(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    for command in ("run", "migrate"):
        line = one_line(
            kerralla(command, cwd=tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, DATA_KEY=DATA_KEY, **env)
        )
        assert expected in line
        assert list(tmp_path.iterdir()) == []


def test_an_unwritable_data_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should be")
    url = f"sqlite+aiosqlite:///{blocker}/data/kerralla.db"
    line = one_line(kerralla("migrate", cwd=tmp_path, DATABASE_URL=url))
    assert f"cannot create the data folder {blocker}/data" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


def test_migrate_makes_the_default_database(tmp_path: Path) -> None:
    result = kerralla("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "The database is up to date" in result.stdout
    assert (tmp_path / "data" / "kerralla.db").is_file()


def test_admin_load_and_jobs(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "organisations.toml"
    first = kerralla("admin", "load", str(example), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "organisations: 4 created, 0 updated, 0 unchanged" in first.stdout
    again = kerralla("admin", "load", str(example), cwd=tmp_path)
    assert "organisations: 0 created, 0 updated, 4 unchanged" in again.stdout
    broken = tmp_path / "broken.toml"
    broken.write_text('[[meeting_types]]\nkey = "x"\n')
    line = one_line(kerralla("admin", "load", str(broken), cwd=tmp_path))
    assert line.startswith(f"kerralla: {broken}: meeting_types[0] (x)")
    assert line.endswith("nothing was changed")
    jobs = kerralla("admin", "jobs", cwd=tmp_path)
    assert jobs.returncode == 0 and jobs.stdout.strip() == "No failed jobs."
