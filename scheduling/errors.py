"""Errors meant for the person running Kerralla: the message is one line saying what to fix."""


class StartupError(Exception):
    """Kerralla cannot do what was asked; str() is one line naming the cause and the fix."""
