"""Errors meant for the person running Kerralla: the message is one line saying what to fix."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .i18n import Translator


class StartupError(Exception):
    """Kerralla cannot do what was asked; str() is one line naming the cause and the fix."""


class InvalidInput(ValueError):
    """Input the domain refuses, said in words the face translates for whoever gave it.

    `message` is a msgid marked with N_, or a (singular, plural) pair marked with Nn_ when it
    shows the number `n`; `params` are its placeholders' values.
    """

    def __init__(self, message: str | tuple[str, str], **params: Any) -> None:
        english = message if isinstance(message, str) else message[params.get("n") != 1]
        super().__init__(english.format(**params) if params else english)
        self.message = message
        self.params = params

    def render(self, t: Translator) -> str:
        if isinstance(self.message, tuple):
            params = {k: v for k, v in self.params.items() if k != "n"}
            return t.ngettext(*self.message, self.params["n"], **params)
        return t.gettext(self.message, **self.params)


class UsageError(StartupError):
    """An administrator's command that cannot be done as given; one line says why."""


def describe(exc: BaseException) -> str:
    """The kind of failure and where it happened, for logs and the jobs table.

    Never the exception's message: it may quote what a person wrote, an address or a database
    row (child-protection data must not reach the logs).
    """
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    where = ""
    if frame is not None:
        code = frame.tb_frame.f_code
        where = f" at {code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno}"
    cause = getattr(exc, "orig", None)
    kind = type(exc).__name__ + (f" ({type(cause).__name__})" if cause is not None else "")
    return f"{kind}{where}"
