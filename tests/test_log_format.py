"""LOG_FORMAT=json: one JSON object per line, secrets redacted, exceptions only by their kind."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import logs
from scheduling.config import SettingsError, load_settings

SECRET = "123456:SECRET-token-value-abcdefghij"
PERSONAL = "Maija Meikäläinen 010203A123X"


@contextmanager
def logging_restored() -> Iterator[None]:
    """Put back the root handlers and the levels `logs.configure` changes."""
    root = logging.getLogger()
    names = [*logs.CHATTY_LIBRARIES, "alembic.runtime.plugins"]
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in names}
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        for handler in handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)


def test_json_lines_redact_secrets_and_leave_out_exception_messages() -> None:
    stream = io.StringIO()
    with logging_restored():
        logs.configure("INFO", [SECRET], fmt="json", stream=stream)
        log = logging.getLogger("kerralla.test")
        log.info("calling the Bot API with %s\nand a second line", SECRET)
        try:
            raise ValueError(f"no meeting for {PERSONAL}")
        except ValueError:
            log.exception("the job failed")
        log.debug("below the level")

    output = stream.getvalue()
    lines = output.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)

    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO"
    assert first["logger"] == "kerralla.test"
    assert first["message"] == "calling the Bot API with «redacted»\nand a second line"
    stamp = datetime.fromisoformat(first["time"])
    assert stamp.utcoffset() == timedelta(0)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60

    assert set(second) == {"time", "level", "logger", "message", "exception"}
    assert second["level"] == "ERROR"
    assert second["message"] == "the job failed"
    assert second["exception"].startswith("ValueError at test_log_format.py:")
    assert SECRET not in output
    assert "SECRET" not in output
    assert "Meikäläinen" not in output
    assert "010203A123X" not in output
    assert "Traceback" not in output


def test_text_stays_the_default() -> None:
    stream = io.StringIO()
    with logging_restored():
        logs.configure("INFO", [SECRET], stream=stream)
        logging.getLogger("kerralla.test").warning("token %s", SECRET)
    line = stream.getvalue().strip()
    assert line.endswith(" WARNING kerralla.test: token «redacted»")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_unknown_format_is_refused() -> None:
    with logging_restored(), pytest.raises(ValueError):
        logs.configure("INFO", fmt="xml")


def test_log_format_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    assert load_settings().log_format == "text"
    monkeypatch.setenv("LOG_FORMAT", " JSON ")
    assert load_settings().log_format == "json"
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match=r"^LOG_FORMAT \('xml'\) is not a log format: set "):
        load_settings()


def test_text_lines_leave_out_exception_messages_too() -> None:
    stream = io.StringIO()
    with logging_restored():
        logs.configure("DEBUG", [SECRET], "text", stream=stream)
        try:
            raise ValueError(PERSONAL)
        except ValueError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
    output = stream.getvalue()
    assert "Error handling request [ValueError at test_log_format.py:" in output
    assert "Meikäläinen" not in output and "Traceback" not in output
