"""Errors meant for the person running Kerralla: the message is one line saying what to fix."""

from typing import Any


class StartupError(Exception):
    """Kerralla cannot do what was asked; str() is one line naming the cause and the fix."""


class InvalidInput(ValueError):
    """Input the domain refuses. `message` is a msgid marked with N_ and `params` its values;
    the face translates it for the person who gave the input (`Translator.gettext`)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params
