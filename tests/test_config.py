"""Settings: defaults, the .env file, and one clear line for each bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduling.config import SettingsError, load_settings

ALL_SETTINGS = [
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "DATABASE_URL",
    "PUBLIC_BASE_URL",
    "WEB_HOST",
    "WEB_PORT",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMTP_FROM",
    "SMTP_STARTTLS",
    "DATA_KEY",
    "TIMEZONE",
    "DEFAULT_LOCALE",
    "ADMIN_TELEGRAM_IDS",
    "LOG_LEVEL",
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ALL_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the developer's checkout


def test_defaults_suit_a_single_machine() -> None:
    settings = load_settings()
    assert settings.telegram_bot_token is None
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.database_url == "sqlite+aiosqlite:///data/kerralla.db"
    assert settings.sqlite_path() == Path("data/kerralla.db")
    assert settings.timezone == "Europe/Helsinki"
    assert settings.default_locale == "fi"
    assert settings.admin_telegram_ids == ()
    assert settings.base_url == "http://127.0.0.1:8080"


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "TELEGRAM_BOT_TOKEN=123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ_abc-def\n"
        "ADMIN_TELEGRAM_IDS=111, 222\nDEFAULT_LOCALE=sv\nSMTP_STARTTLS=false\n"
    )
    monkeypatch.setenv("TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("DATABASE_URL", "postgresql://kerralla@db.example/kerralla")
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value().startswith("123456:")
    assert settings.admin_telegram_ids == (111, 222)
    assert settings.default_locale == "sv"
    assert settings.smtp_starttls is False
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    # A plain PostgreSQL URL gets the async driver Kerralla uses.
    assert settings.database_url == "postgresql+asyncpg://kerralla@db.example/kerralla"
    assert settings.sqlite_path() is None


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ADMIN_TELEGRAM_IDS", "12,abc", "ADMIN_TELEGRAM_IDS ('12,abc') is not a list of Telegram"),
        ("WEB_PORT", "http", "WEB_PORT ('http') is not a valid number: set WEB_PORT"),
        ("WEB_PORT", "70000", "WEB_PORT ('70000') is not a valid number"),
        ("SMTP_STARTTLS", "perhaps", "SMTP_STARTTLS ('perhaps') is not true or false"),
        ("TIMEZONE", "Europe/Hki", "TIMEZONE ('Europe/Hki') is not a time zone name"),
        ("DEFAULT_LOCALE", "de", "DEFAULT_LOCALE ('de') is not a language Kerralla speaks"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL ('api.telegram.org') is not"),
        ("PUBLIC_BASE_URL", "ftp://x", "PUBLIC_BASE_URL ('ftp://x') is not an http(s) URL"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL names a database Kerralla does not support"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a database URL"),
        ("TELEGRAM_BOT_TOKEN", "secret-but-wrong", "TELEGRAM_BOT_TOKEN does not look like"),
        ("DATA_KEY", "short", "DATA_KEY is not a key made by `kerralla generate-key`"),
        ("SMTP_FROM", "kerralla", "SMTP_FROM ('kerralla') is not an email address"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert "set " in message  # and how to set it right


def test_secrets_are_not_repeated_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "12345:short")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "12345:short" not in str(caught.value)
