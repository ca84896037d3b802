"""Settings from the environment and an optional `.env` file.

Every setting is read once, at start; a missing or invalid value stops the start with one line
that names the setting and says how to set it (`SettingsError`).
"""

from __future__ import annotations

import base64
import binascii
import re
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from .errors import StartupError

SUPPORTED_LOCALES = ("fi", "sv", "en")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/kerralla.db"
TELEGRAM_TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{20,}$")


class SettingsError(StartupError):
    """A setting is missing or invalid; the message is one line meant for the person starting."""


# How to fix each setting, shown after what is wrong with it.
HINTS: dict[str, str] = {
    "TELEGRAM_BOT_TOKEN": "ask @BotFather for a token and set TELEGRAM_BOT_TOKEN in the "
    "environment or in .env (see .env.example)",
    "TELEGRAM_API_URL": "set TELEGRAM_API_URL to the Bot API server's base URL, "
    "e.g. https://api.telegram.org",
    "TELEGRAM_WEBHOOK_SECRET": "set TELEGRAM_WEBHOOK_SECRET to 32 or more random letters, digits, "
    "_ or - (e.g. from `openssl rand -hex 32`), or leave it empty for long polling",
    "DATABASE_URL": "set DATABASE_URL, e.g. sqlite+aiosqlite:///data/kerralla.db or "
    "postgresql+asyncpg://user@host/kerralla",
    "PUBLIC_BASE_URL": "set PUBLIC_BASE_URL to the address people reach Kerralla at, "
    "e.g. https://kerralla.example.fi",
    "WEB_HOST": "set WEB_HOST to an address to listen on, e.g. 127.0.0.1",
    "WEB_PORT": "set WEB_PORT to a port number between 1 and 65535",
    "SMTP_PORT": "set SMTP_PORT to a port number between 1 and 65535",
    "SMTP_STARTTLS": "set SMTP_STARTTLS to true or false",
    "SMTP_FROM": "set SMTP_FROM to the sender address, e.g. kerralla@example.fi",
    "SMTP_REPLY_TO": "set SMTP_REPLY_TO to an email address, or leave it empty",
    "INVITATION_TITLE": "set INVITATION_TITLE to a short neutral title, or leave it empty",
    "DATA_KEY": "create one with `kerralla generate-key` and set DATA_KEY in the environment "
    "or in .env",
    "TIMEZONE": "set TIMEZONE to an IANA time zone name, e.g. Europe/Helsinki",
    "DEFAULT_LOCALE": "set DEFAULT_LOCALE to one of: " + ", ".join(SUPPORTED_LOCALES),
    "ADMIN_TELEGRAM_IDS": "set ADMIN_TELEGRAM_IDS to Telegram user ids separated by commas, "
    "e.g. 12345678,23456789",
    "LOG_LEVEL": "set LOG_LEVEL to DEBUG, INFO, WARNING or ERROR",
    "LOG_FORMAT": "set LOG_FORMAT to text or json",
    "MAX_WINDOW_DAYS": "set MAX_WINDOW_DAYS to a number of days between 1 and 366",
    "CALENDAR_TIMEOUT_SECONDS": "set CALENDAR_TIMEOUT_SECONDS to seconds between 0 and 60",
    "CALENDAR_CACHE_SECONDS": "set CALENDAR_CACHE_SECONDS to seconds between 0 and 86400",
    "ALLOW_LOOPBACK_CALENDARS": "set ALLOW_LOOPBACK_CALENDARS to true or false",
    "RATE_LIMIT_PER_TOKEN": "set RATE_LIMIT_PER_TOKEN to requests per minute, e.g. 60",
    "RATE_LIMIT_PER_ADDRESS": "set RATE_LIMIT_PER_ADDRESS to requests per minute, e.g. 300",
    "TRUSTED_PROXY": "set TRUSTED_PROXY to the reverse proxy's addresses or networks, separated "
    "by commas (e.g. 127.0.0.1 or 10.0.0.0/24), or leave it empty",
    "FAMILY_REMINDER_DAYS": "set FAMILY_REMINDER_DAYS to a number of days between 0 and 60",
    "RETENTION_ANSWERS_DAYS": "set RETENTION_ANSWERS_DAYS to a number of days",
    "RETENTION_MEETINGS_DAYS": "set RETENTION_MEETINGS_DAYS to a number of days",
    "RETENTION_AUDIT_DAYS": "set RETENTION_AUDIT_DAYS to a number of days",
    "TELEGRAM_MESSAGES_PER_SECOND": "set TELEGRAM_MESSAGES_PER_SECOND to a number above 0, "
    "e.g. 30 (30 divided by the number of processes sending)",
    "HEALTH_STUCK_SECONDS": "set HEALTH_STUCK_SECONDS to seconds between 60 and 86400",
    "HEALTH_WORKER_SILENT_SECONDS": "set HEALTH_WORKER_SILENT_SECONDS to seconds between 30 "
    "and 3600",
}

# Settings whose value must never be echoed back in an error.
SECRET_SETTINGS = {
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "SMTP_PASSWORD",
    "DATA_KEY",
    "DATABASE_URL",
}
# Where Telegram delivers updates in webhook mode, under PUBLIC_BASE_URL.
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,256}$")


def _check_http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("is not an http(s) URL")
    return value


def parse_data_keys(value: str) -> list[bytes]:
    """DATA_KEY: one or more Fernet keys separated by commas, the first the current one."""
    keys: list[bytes] = []
    for part in value.split(","):
        part = part.strip()
        try:
            raw = base64.urlsafe_b64decode(part.encode("ascii"))
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ValueError("is not a key made by `kerralla generate-key`")
        keys.append(part.encode("ascii"))
    return keys


class Settings(BaseSettings):
    """Kerralla's configuration; field names are the environment variables, in upper case."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    # Set (with PUBLIC_BASE_URL): Telegram posts updates to PUBLIC_BASE_URL/telegram/webhook
    # with this secret in a header, instead of Kerralla polling for them.
    telegram_webhook_secret: SecretStr | None = None
    database_url: str = DEFAULT_DATABASE_URL
    public_base_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = Field(8080, ge=1, le=65535)
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "kerralla@kerralla.invalid"
    smtp_starttls: bool = True
    smtp_reply_to: str | None = None
    # The neutral title of every calendar invitation; default "Tapaaminen" / "Möte" / "Meeting"
    # in each recipient's language. Never a child's name, a case label or a meeting type.
    invitation_title: str | None = None
    data_key: SecretStr | None = None
    timezone: str = "Europe/Helsinki"
    default_locale: str = "fi"
    admin_telegram_ids: Annotated[tuple[int, ...], NoDecode] = ()
    log_level: str = "INFO"
    # "text" lines for a terminal, or "json": one JSON object per line (journald, collectors).
    log_format: str = "text"
    # Scheduling: how far ahead a convener may look, and how published calendars are read.
    max_window_days: int = Field(120, ge=1, le=366)
    calendar_timeout_seconds: float = Field(5.0, gt=0, le=60)
    calendar_cache_seconds: int = Field(900, ge=0, le=86400)
    # Only for tests and local trials: lets calendar URLs point at this machine.
    allow_loopback_calendars: bool = False
    # The secret-link pages (/f/, /s/, /ics/): requests per minute for one link and for one
    # client address. The address is the connecting one; only when that is a TRUSTED_PROXY,
    # the one the proxy wrote into X-Forwarded-For.
    rate_limit_per_token: int = Field(60, ge=1, le=100_000)
    rate_limit_per_address: int = Field(300, ge=1, le=1_000_000)
    trusted_proxy: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # Reminding a family that has not answered, this many days before the answer deadline.
    family_reminder_days: int = Field(2, ge=0, le=60)
    # Retention: the family's answers, meetings and their circles, and the audit log.
    retention_answers_days: int = Field(30, ge=1, le=3650)
    retention_meetings_days: int = Field(365, ge=1, le=3650)
    retention_audit_days: int = Field(730, ge=1, le=3650)
    # Telegram's overall limit, for this process: with several processes sending from one
    # database, 30 divided by their number.
    telegram_messages_per_second: float = Field(30.0, gt=0, le=1000)
    # /healthz fails when a due message or job has waited this long, or a worker is silent.
    health_stuck_seconds: int = Field(600, ge=60, le=86400)
    health_worker_silent_seconds: int = Field(120, ge=30, le=3600)
    # The outbox: a message that could not be sent is tried again after this many seconds,
    # doubling each time (at most ten minutes, six tries); one being sent is taken again (by
    # any process) only after OUTBOX_LEASE_SECONDS, when the process sending it died — longer
    # than one send can take.
    outbox_retry_seconds: float = Field(5.0, ge=0.1, le=600)
    outbox_lease_seconds: int = Field(120, ge=10, le=3600)

    @field_validator("telegram_bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not TELEGRAM_TOKEN_PATTERN.match(value.get_secret_value().strip()):
            raise ValueError("does not look like a bot token (digits, a colon, then letters)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if not WEBHOOK_SECRET_PATTERN.match(value.get_secret_value().strip()):
            raise ValueError("is not 32 to 256 letters, digits, _ or -")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _check_http_url(value)

    @field_validator("public_base_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        return _check_http_url(value) if value and value.strip() else None

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError("is not a database URL") from None
        if url.drivername not in {"sqlite+aiosqlite", "postgresql+asyncpg"}:
            if url.get_backend_name() == "sqlite":
                url = url.set(drivername="sqlite+aiosqlite")
            elif url.get_backend_name() in {"postgresql", "postgres"}:
                url = url.set(drivername="postgresql+asyncpg")
            else:
                raise ValueError("names a database Kerralla does not support (SQLite, PostgreSQL)")
        return url.render_as_string(hide_password=False)

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from(cls, value: str) -> str:
        if not re.match(r"^[^@\s<>]+@[^@\s<>]+$", value.strip()):
            raise ValueError("is not an email address")
        return value.strip()

    @field_validator("smtp_reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return cls._smtp_from(value)

    @field_validator("invitation_title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if len(value.strip()) > 60 or any(ch in value for ch in "\r\n"):
            raise ValueError("is not a short one-line title")
        return value.strip()

    @field_validator("data_key")
    @classmethod
    def _data_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        parse_data_keys(value.get_secret_value())
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not a time zone name") from None
        return value.strip()

    @field_validator("default_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value.strip().lower() not in SUPPORTED_LOCALES:
            raise ValueError("is not a language Kerralla speaks")
        return value.strip().lower()

    @field_validator("admin_telegram_ids", mode="before")
    @classmethod
    def _admin_ids(cls, value: Any) -> tuple[int, ...]:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
            if not all(re.fullmatch(r"\d{1,20}", p) for p in parts):
                raise ValueError("is not a list of Telegram user ids")
            return tuple(int(p) for p in parts)
        return tuple(value or ())

    @field_validator("trusted_proxy", mode="before")
    @classmethod
    def _trusted_proxy(cls, value: Any) -> tuple[IPv4Network | IPv6Network, ...]:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        try:
            return tuple(ip_network(str(part), strict=False) for part in value or ())
        except ValueError:
            raise ValueError("is not a list of IP addresses or networks") from None

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.strip().upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("is not a log level")
        return value.strip().upper()

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.strip().lower() not in {"text", "json"}:
            raise ValueError("is not a log format")
        return value.strip().lower()

    # Derived values -------------------------------------------------------------------------

    @property
    def database(self) -> URL:
        return make_url(self.database_url)

    @property
    def base_url(self) -> str:
        """Where people reach the web pages: PUBLIC_BASE_URL, else the local web server."""
        return self.public_base_url or f"http://{self.web_host}:{self.web_port}"

    @property
    def webhook_url(self) -> str | None:
        """Where Telegram posts updates, or None for long polling (no webhook secret set)."""
        if self.telegram_webhook_secret is None or self.public_base_url is None:
            return None
        return f"{self.public_base_url}{WEBHOOK_PATH}"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None for PostgreSQL and in-memory SQLite."""
        url = self.database
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, turning a validation failure into one readable `SettingsError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_error(exc)) from None


def describe_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    name = str(error["loc"][0]).upper() if error["loc"] else "a setting"
    reason = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if error.get("type") in {
        "int_parsing",
        "float_parsing",
        "greater_than",
        "greater_than_equal",
        "less_than_equal",
    }:
        reason = "is not a valid number"
    elif error.get("type") == "bool_parsing":
        reason = "is not true or false"
    elif not reason.startswith(("is ", "does ", "names ")):
        reason = "is invalid"
    shown = ""
    if name not in SECRET_SETTINGS and isinstance(error.get("input"), str | int):
        shown = f" ({error['input']!r})"
    hint = HINTS.get(name, f"check {name} in the environment or in .env")
    return f"{name}{shown} {reason}: {hint}."
