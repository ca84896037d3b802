"""Encryption at rest with the key(s) in DATA_KEY: the first encrypts, all of them decrypt."""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, MultiFernet

from .config import Settings, parse_data_keys


@cache
def _keys(data_key: str) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in parse_data_keys(data_key)])


def sealer(settings: Settings) -> MultiFernet:
    if settings.data_key is None:
        raise RuntimeError("DATA_KEY is not set")
    return _keys(settings.data_key.get_secret_value())


def seal(settings: Settings, text: str) -> bytes:
    return sealer(settings).encrypt(text.encode("utf-8"))


def unseal(settings: Settings, token: bytes) -> str:
    return sealer(settings).decrypt(token).decode("utf-8")
